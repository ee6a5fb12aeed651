"""Note copy on CPU: notes/s and p50/p99 latency per note for the template engine, the transformers engine
(plain batched `generate`), the experimental transformers serving path (static-cache batching scheduler) and
vLLM (`AsyncLLM`), on the same tiny random Qwen2 with the same prompts and schema, with concurrent clients.
One run.

The LLM rows measure the writer (chat prompt -> schema-constrained JSON -> parsed, tidied note); the
compliance pass is the same for every engine (~1 ms) and is left out so vLLM can run in its own venv
(`.venv-vllm`, which has no moderation stack). The vLLM row runs in a subprocess of that venv; without it the
row says why. A random model writes gibberish of random length, so tokens/s is printed too. LLM clients are
coroutines on one event loop calling the async engine (`generate`, one note each); the template engine is
sync and runs in threads.

    .venv/bin/python benchmarks/bench_copy_cpu.py [--notes 16] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRODUCTS = [
    ("山茶集轻薄水感防晒霜", "防晒", ["清爽不油腻", "不泛白"], "种草"),
    ("丝绒哑光口红", "彩妆", ["显白", "不拔干"], "测评"),
    ("亚麻收腰连衣裙", "连衣裙", ["透气", "有口袋"], "教程"),
    ("冷萃挂耳咖啡", "咖啡", ["酸度低", "独立包装"], "合集"),
    ("降噪蓝牙耳机", "耳机", ["续航30小时", "轻巧"], "开箱"),
    ("香薰蜡烛礼盒", "家居", ["大豆蜡", "三种香型"], "种草"),
    ("宝宝硅胶餐盘", "母婴", ["吸盘防打翻", "可进洗碗机"], "测评"),
    ("折叠露营椅", "户外", ["一秒展开", "承重120kg"], "开箱"),
]


def requests(count: int) -> list:
    from generation.copy.request import NoteRequest

    return [
        NoteRequest(product=p, category=c, selling_points=s, style=st, length="short", seed=i)
        for i, (p, c, s, st) in ((i, PRODUCTS[i % len(PRODUCTS)]) for i in range(count))
    ]


def measure(write, items: list, clients: int) -> dict:
    """`clients` threads send one note request each at a time; latency is per request."""
    latencies: list[float] = []
    tokens: list[int] = []

    def one(item) -> None:
        start = time.perf_counter()
        tokens.append(write(item))
        latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, items))
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "notes_per_s": len(items) / wall,
        "p50_s": statistics.median(ordered),
        "p99_s": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "tokens_per_s": sum(tokens) / wall,
    }


def measure_async(write, items: list, clients: int) -> dict:
    """`clients` coroutines send one note request each at a time; latency is per request."""
    latencies: list[float] = []
    tokens: list[int] = []

    async def client(queue: list) -> None:
        while queue:
            item = queue.pop()
            start = time.perf_counter()
            tokens.append(await write(item))
            latencies.append(time.perf_counter() - start)

    async def run() -> float:
        queue = list(reversed(items))
        start = time.perf_counter()
        await asyncio.gather(*(client(queue) for _ in range(clients)))
        return time.perf_counter() - start

    wall = asyncio.run(run())
    ordered = sorted(latencies)
    return {
        "notes_per_s": len(items) / wall,
        "p50_s": statistics.median(ordered),
        "p99_s": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "tokens_per_s": sum(tokens) / wall,
    }


def llm_writer(engine):
    from generation.copy.llm import LLMCopyEngine

    writer = LLMCopyEngine(engine)

    async def write(request) -> int:
        generation = await engine.generate(writer.prompt(request), writer.params(request, request.seed))
        writer.finish(generation.text, request)  # parse and tidy, as the service does
        return generation.completion_tokens

    return write


def warm_up(write) -> None:
    asyncio.run(write(requests(1)[0]))  # grammar compile, first forward


def run_vllm(model_dir: str, count: int, clients: int) -> dict:
    """In the vLLM venv: load the same checkpoint with the vllm engine and measure the same way."""
    from models.loader import load_engine
    from models.spec import EngineKind, ModelSpec, Task

    # The copy prompt (~1,400 tokens with its few-shot turns) plus a note's token budget is longer than the tiny
    # model's 2,048 positions; the transformers engine does not stop there (RoPE extrapolates), vLLM does unless
    # allowed. Random weights: the positions past 2,048 are as meaningful as the rest.
    os.environ.setdefault("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1")
    spec = ModelSpec(
        name="tiny-qwen2",
        task=Task.TEXT_GENERATION,
        engine=EngineKind.VLLM,
        source=model_dir,
        device="cpu",
        options={"max_model_len": 8192},
    )
    engine = load_engine(spec)
    write = llm_writer(engine)
    warm_up(write)
    result = measure_async(write, requests(count), clients)
    engine.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=16)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--vllm-child", metavar="MODEL_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.vllm_child:
        print("RESULT " + json.dumps(run_vllm(args.vllm_child, args.notes, args.clients)))
        return

    from generation.copy.template_engine import TemplateEngine
    from models import testing
    from models.loader import load_engine

    rows: dict[str, dict | str] = {}
    template = TemplateEngine()
    template.write(requests(1)[0], 0)  # warm-up: jieba loads its dictionary on first use
    rows["template"] = measure(lambda r: (template.write(r, r.seed), 0)[1], requests(args.notes * 8), args.clients)
    with tempfile.TemporaryDirectory() as tmp:
        spec = testing.build_tiny_qwen2(Path(tmp) / "qwen2")
        plain = load_engine(spec)
        write = llm_writer(plain)
        warm_up(write)
        rows["transformers (generate)"] = measure_async(write, requests(args.notes), args.clients)
        plain.close()
        options = {"scheduler": "static", "slots": max(4, args.clients), "max_len": 4096, "warmup": True}
        served = load_engine(spec.model_copy(update={"options": options}))
        write = llm_writer(served)
        warm_up(write)
        rows["transformers (scheduler, exp.)"] = measure_async(write, requests(args.notes), args.clients)
        served.close()
        vllm_python = ROOT / ".venv-vllm" / "bin" / "python"
        if not vllm_python.exists():
            rows["vllm (AsyncLLM)"] = "not measured: .venv-vllm is missing (`make test-vllm` builds it)"
        else:
            cmd = [str(vllm_python), __file__, "--vllm-child", str(Path(tmp) / "qwen2"), "--notes", str(args.notes),
                   "--clients", str(args.clients)]  # fmt: skip
            started = time.perf_counter()
            child = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)
            line = next((x for x in child.stdout.splitlines() if x.startswith("RESULT ")), None)
            rows["vllm (AsyncLLM)"] = (
                json.loads(line[7:]) if line else f"failed: {child.stderr.strip().splitlines()[-1:]}"
            )
            print(f"(vLLM subprocess incl. engine start: {time.perf_counter() - started:.0f} s)")
    base = rows["transformers (generate)"]
    print(f"\nnote copy on CPU, tiny Qwen2, {args.notes} notes, {args.clients} concurrent clients, one run")
    print(f"{'engine':28} {'notes/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'tok/s':>8} {'vs generate':>12}")
    for name, row in rows.items():
        if isinstance(row, str):
            print(f"{name:28} {row}")
            continue
        ratio = row["notes_per_s"] / base["notes_per_s"]
        print(
            f"{name:28} {row['notes_per_s']:9.2f} {1000 * row['p50_s']:8.1f} {1000 * row['p99_s']:8.1f} "
            f"{row['tokens_per_s']:8.0f} {ratio:11.2f}x"
        )


if __name__ == "__main__":
    main()
