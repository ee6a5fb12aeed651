"""GPU: does the experimental static-KV scheduler earn its place? Qwen2.5-7B architecture, random bf16 weights.

Workload (the issue's serving case): 64 concurrent clients, each sending requests with a prompt of 64-512
tokens and 64-256 output tokens (seeded, mixed), sampling at temperature 0.7 / top-p 0.9. Reported for each
path, in the same run:
- output tokens/s in total (useful tokens only: a padded batch's tokens past a row's own length do not count),
- p50/p99 time to first token,
- one request alone: output tokens/s,
- shape recompiles after warm-up for ours (torch._dynamo graph count delta during the measured run; target 0).

Paths:
- transformers CB (the baseline): transformers' own continuous batching, `model.init_continuous_batching()`
  -> `ContinuousBatchingManager` (paged KV cache), the 64 clients adding streaming requests to it as they go.
- ours: `StaticBatchScheduler` (models/engines/transformers_batching.py, experimental, off by default) -
  `slots` sequences in a static KV cache, continuous admission, prefill/decode shapes bucketed and compiled
  once at warm-up.
- naive: `model.generate` on one left-padded batch of all 64 first requests (max length of the batch),
  and one request alone.

The decision rule (issue 8): the scheduler stays, still experimental, only if ours >= 2x transformers CB in
output tok/s at 64 concurrent clients; otherwise it is removed. The script prints the ratio and the verdict.
Needs a CUDA GPU with ~40 GB free. `--cpu-dry-run` runs every path on a toy-width model on CPU (code paths
only; its figures mean nothing).

    python benchmarks/gpu_copy_serving.py [--clients 64] [--requests-per-client 2] [--no-compile] [--cpu-dry-run]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class IdTokenizer:
    """Random-weight benchmark: token ids in, one character per token out (there is no text to read)."""

    pad_token_id = 0
    eos_token_id = None

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return "x" * len(ids)


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def build_model(dtype, device: str = "cuda", tiny: bool = False):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    size = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28}
    if tiny:  # --cpu-dry-run: same code paths, toy width
        size = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = Qwen2Config(
        vocab_size=152064,
        num_key_value_heads=4 if not tiny else 1,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        tie_word_embeddings=False,
        **size,
    )
    torch.set_default_dtype(dtype)
    with torch.device(device):
        model = Qwen2ForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    model.eval()
    model.generation_config.eos_token_id = None  # random weights: every request runs to its own length
    model.generation_config.pad_token_id = 0
    return model


def workload(clients: int, per_client: int, seed: int = 0) -> list[list[tuple[list[int], int]]]:
    rng = random.Random(seed)

    def request() -> tuple[list[int], int]:
        return [rng.randrange(1000, 150000) for _ in range(rng.randint(64, 512))], rng.randint(64, 256)

    return [[request() for _ in range(per_client)] for _ in range(clients)]


def graph_count() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def run_ours(model, jobs, slots: int, compile: bool) -> dict:
    from models.engines.base import GenerationParams
    from models.engines.transformers_batching import StaticBatchScheduler

    scheduler = StaticBatchScheduler(model, IdTokenizer(), slots=slots, max_len=1024, compile=compile)
    started = time.perf_counter()
    scheduler.warmup()
    warmup_s = time.perf_counter() - started
    graphs_before = graph_count()
    ttfts: list[float] = []
    tokens = [0]
    lock = threading.Lock()

    def client(requests) -> None:
        for ids, out in requests:
            params = GenerationParams(max_new_tokens=out, temperature=0.7, top_p=0.9)
            first: list[float] = []
            sent = time.perf_counter()
            request = scheduler.submit(
                ids, params, on_first_token=lambda first=first: first.append(time.perf_counter())
            )
            [generation] = list(scheduler.drain(request))
            with lock:
                ttfts.append(first[0] - sent)
                tokens[0] += generation.completion_tokens

    threads = [threading.Thread(target=client, args=(r,)) for r in jobs]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    recompiles = graph_count() - graphs_before
    # one request alone (128 in, 256 out)
    single_ids, single_out = jobs[0][0][0][:128], 256
    started = time.perf_counter()
    list(
        scheduler.drain(
            scheduler.submit(single_ids, GenerationParams(max_new_tokens=single_out, temperature=0.0), True)
        )
    )
    single = single_out / (time.perf_counter() - started)
    scheduler.close()
    ttfts.sort()
    return {
        "tok_s": tokens[0] / wall,
        "ttft_p50": statistics.median(ttfts),
        "ttft_p99": ttfts[round(0.99 * (len(ttfts) - 1))],
        "single_tok_s": single,
        "recompiles": recompiles,
        "warmup_s": warmup_s,
    }


def run_transformers_cb(model, jobs) -> dict:
    """transformers' own continuous batching: one manager, every client adds streaming requests to it."""
    from transformers import GenerationConfig

    config = GenerationConfig(
        do_sample=True, temperature=0.7, top_p=0.9, max_new_tokens=256, eos_token_id=None, pad_token_id=0
    )
    manager = model.init_continuous_batching(generation_config=config)
    started = time.perf_counter()
    manager.warmup()
    manager.start()
    warmup_s = time.perf_counter() - started
    ttfts: list[float] = []
    tokens = [0]
    ids_counter = iter(range(10**9))

    async def request(ids: list[int], out: int, streaming: bool = True) -> tuple[float, int]:
        request_id = f"bench-{next(ids_counter)}"
        results: asyncio.Queue = asyncio.Queue()
        manager.register_result_handler(request_id, results.put_nowait)
        sent = time.perf_counter()
        manager.add_request(ids, request_id=request_id, max_new_tokens=out, streaming=streaming)
        first = None
        while True:
            result = await results.get()
            if result.error is not None:
                raise RuntimeError(f"transformers CB request failed: {result.error}")
            if first is None and result.generated_tokens:
                first = time.perf_counter() - sent
            if result.is_finished():
                return first if first is not None else time.perf_counter() - sent, len(result.generated_tokens)

    async def client(requests) -> None:
        for ids, out in requests:
            ttft, n = await request(ids, out)
            ttfts.append(ttft)
            tokens[0] += n

    async def everything() -> float:
        begun = time.perf_counter()
        await asyncio.gather(*(client(r) for r in jobs))
        return time.perf_counter() - begun

    try:
        wall = asyncio.run(everything())
        single_ids = jobs[0][0][0][:128]

        async def alone() -> float:
            begun = time.perf_counter()
            _, n = await request(single_ids, 256, streaming=False)
            return n / (time.perf_counter() - begun)

        single = asyncio.run(alone())
    finally:
        manager.stop(block=True, timeout=30)
        manager.destroy()
    ttfts.sort()
    return {
        "tok_s": tokens[0] / wall,
        "ttft_p50": statistics.median(ttfts),
        "ttft_p99": ttfts[round(0.99 * (len(ttfts) - 1))],
        "single_tok_s": single,
        "warmup_s": warmup_s,
    }


def run_naive(model, jobs) -> dict:
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class FirstToken(LogitsProcessor):
        def __init__(self) -> None:
            self.at: float | None = None

        def __call__(self, input_ids, scores):
            if self.at is None:
                _sync()
                self.at = time.perf_counter()
            return scores

    firsts = [client[0] for client in jobs]
    width = max(len(ids) for ids, _ in firsts)
    longest = max(out for _, out in firsts)
    ids = torch.zeros(len(firsts), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, (prompt, _) in enumerate(firsts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    marker = FirstToken()
    _sync()
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(
            input_ids=ids.to(model.device),
            attention_mask=mask.to(model.device),
            max_new_tokens=longest,
            min_new_tokens=longest,
            do_sample=True,
            temperature=0.7,
            top_p=0.9,
            logits_processor=LogitsProcessorList([marker]),
        )
    _sync()
    wall = time.perf_counter() - started
    useful = sum(out for _, out in firsts)
    batch_ttft = marker.at - started  # every row's first token comes out of the one batched prefill
    single_ids = torch.tensor([firsts[0][0][:128]]).to(model.device)
    started = time.perf_counter()
    with torch.inference_mode():
        model.generate(input_ids=single_ids, max_new_tokens=64, min_new_tokens=64, do_sample=False)
    _sync()
    return {"tok_s": useful / wall, "ttft": batch_ttft, "single_tok_s": 64 / (time.perf_counter() - started)}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests-per-client", type=int, default=2)
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--cpu-dry-run", action="store_true", help="toy-width model on CPU: checks the code paths")
    args = parser.parse_args()
    if args.cpu_dry_run:
        args.clients, args.requests_per_client, args.slots, args.no_compile = 4, 1, 4, True
        model = build_model(torch.float32, "cpu", tiny=True)
    elif not torch.cuda.is_available():
        sys.exit("gpu_copy_serving.py needs a CUDA GPU (it builds a 7B-parameter model); nothing was measured")
    else:
        model = build_model(torch.bfloat16)
    jobs = workload(args.clients, args.requests_per_client)
    naive = run_naive(model, jobs)
    ours = run_ours(model, jobs, args.slots, compile=not args.no_compile)
    cb = run_transformers_cb(model, jobs)  # last: it may switch the model's attention implementation
    device = "CPU dry run (toy width)" if args.cpu_dry_run else torch.cuda.get_device_name()
    print(f"\nQwen2.5-7B arch, bf16, random weights, {device}, {args.clients} clients x "
          f"{args.requests_per_client} requests (64-512 in, 64-256 out), one run")  # fmt: skip
    print(f"{'path':34} {'out tok/s':>10} {'TTFT p50':>9} {'TTFT p99':>9} {'1 req tok/s':>12} {'recompiles':>10}")
    print(f"{'naive generate (padded batch)':34} {naive['tok_s']:10.0f} {naive['ttft']:9.2f} {naive['ttft']:9.2f} "
          f"{naive['single_tok_s']:12.1f} {'-':>10}")  # fmt: skip
    print(f"{'transformers CB (baseline)':34} {cb['tok_s']:10.0f} {cb['ttft_p50']:9.2f} {cb['ttft_p99']:9.2f} "
          f"{cb['single_tok_s']:12.1f} {'-':>10}")  # fmt: skip
    print(f"{'ours (static-cache scheduler)':34} {ours['tok_s']:10.0f} {ours['ttft_p50']:9.2f} {ours['ttft_p99']:9.2f} "
          f"{ours['single_tok_s']:12.1f} {ours['recompiles']:10d}")  # fmt: skip
    ratio = ours["tok_s"] / cb["tok_s"]
    print(f"ours / transformers CB: {ratio:.2f}x output tok/s (ours / naive {ours['tok_s'] / naive['tok_s']:.2f}x); "
          f"warm-up ours {ours['warmup_s']:.0f} s, CB {cb['warmup_s']:.0f} s")  # fmt: skip
    if args.cpu_dry_run:
        print("verdict: none (CPU dry run: code paths only)")
    else:
        print("verdict: " + ("keep the scheduler (still experimental): >= 2x transformers CB" if ratio >= 2 else
                             "remove the scheduler: < 2x transformers CB"))  # fmt: skip


if __name__ == "__main__":
    main()
