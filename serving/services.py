"""`build_services(settings) -> Services`: the one place every capability's service is built.

The ingress, every Ray deployment and the CLI call this factory, so a capability is wired the same way
wherever it runs. Services are built on first use (the CLI's `tryon` command never loads the moderation
classifier, a replica that serves no copy never loads an LLM) and belong to their `Services` object — there
are no module-level singletons. Where a capability runs in another Ray deployment, the factory is given that
deployment's handle and builds the same interface over it.

Adding a capability: a domain package with its service, a property here, a route module listed in
`serving/capabilities.py`, a CLI command, a studio tab (see README, "Architecture").
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from models.registry import ModelRegistry
from serving.settings import Settings

if TYPE_CHECKING:
    from ar_tryon.service import TryOnService
    from ar_tryon.shade_store import MerchantShadeStore
    from generation.copy.service import CopyService
    from generation.image.service import ImageService
    from generation.translate.glossary_store import GlossaryStore
    from generation.translate.service import TranslationService
    from generation.video.service import VideoService
    from models.engines.base import Engine, TextEngine
    from moderation import AuditLog, Moderator
    from moderation.service import ModerationService
    from serving.deployments.tryon import FrameProcessor
    from serving.jobs import JobStore

__all__ = ["Services", "build_services"]

T = TypeVar("T")


def _built(build: Callable[[Services], T]) -> T:
    """A property built once per `Services`, on first use, by one thread while others wait for it (each
    property has its own lock, so a slow build — training the moderation classifier — holds up only the
    callers that need that one)."""
    name = build.__name__

    @functools.wraps(build)
    def get(self: Services) -> T:
        if name not in self._built:
            with self._locks.setdefault(name, threading.Lock()):
                if name not in self._built:
                    self._built[name] = build(self)
        return self._built[name]

    return property(get)  # type: ignore[return-value]


class Services:
    """Every capability's service for one process (an ingress replica, a deployment, a CLI run).

    Args:
        settings: what to build.
        model_hosts: `ModelHost` deployment handles by registry model name (models hosted on their own GPUs).
        moderation_handle: the `Moderation` deployment, when moderation runs in its own deployment.
        frames_handle: the `TryOnSessions` deployment, which keeps webcam sessions for every ingress replica.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        model_hosts: dict[str, Any] | None = None,
        moderation_handle: Any = None,
        frames_handle: Any = None,
    ) -> None:
        self.settings = settings
        self.model_hosts = dict(model_hosts or {})
        self._moderation_handle = moderation_handle
        self._frames_handle = frames_handle
        self._built: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}

    def is_built(self, name: str) -> bool:
        """Whether the service `name` exists already (using it then costs nothing)."""
        return name in self._built

    # -- shared infrastructure ---------------------------------------------------------------------------
    @_built
    def registry(self) -> ModelRegistry:
        return ModelRegistry.from_yaml(self.settings.models)

    @_built
    def store(self) -> JobStore:
        """The database (jobs, audit log): SQLite in the data directory, or `database_url`."""
        from serving.jobs import JobStore

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return JobStore(self.settings.db_url)

    @_built
    def glossaries(self) -> GlossaryStore:
        """Merchants' glossaries, in the jobs' database (the store shares its engine)."""
        from generation.translate.glossary_store import GlossaryStore

        return GlossaryStore(self.store.engine)

    @_built
    def shade_store(self) -> MerchantShadeStore:
        """Merchants' own try-on shades, in the jobs' database (the store shares its engine)."""
        from ar_tryon.shade_store import MerchantShadeStore

        return MerchantShadeStore(self.store.engine)

    @_built
    def audit(self) -> AuditLog:
        from moderation import AuditLog

        return AuditLog(self.store.engine)

    def load_engine(self, name: str) -> Engine:
        """A registry model's engine, loaded in this process (`ModelError` with the fix when it cannot load)."""
        from models.loader import load_engine

        return load_engine(self.registry.get(name))

    # -- capabilities -------------------------------------------------------------------------------------
    @_built
    def moderator(self) -> Moderator:
        """The moderator of this process: shipped data, and the linear classifier (trained once, under a lock,
        into the data directory) or the registry transformer named by `moderation_classifier`."""
        from moderation import Moderator, TransformerClassifier

        images_dir = self.settings.data_dir / "brand-images"
        if self.settings.moderation_classifier:
            moderator = Moderator.from_files(images_dir=images_dir)
            moderator.classifier = TransformerClassifier(self.load_engine(self.settings.moderation_classifier))
            return moderator
        return Moderator.from_files(classifier_path=self.settings.classifier_path, images_dir=images_dir)

    @_built
    def moderation(self) -> ModerationService:
        from moderation.service import LocalModeration, ModerationService

        if self._moderation_handle is not None:
            from serving.deployments.moderation import RemoteModeration

            backend: Any = RemoteModeration(self._moderation_handle)
        else:
            backend = LocalModeration(lambda: self.moderator)
        return ModerationService(backend, self.audit)

    @_built
    def copy(self) -> CopyService:
        """Note copy with the configured writer (`copy_model`), or the template engine; its compliance pass
        uses this process's moderator."""
        from generation.copy.compliance import CompliancePass
        from generation.copy.service import CopyService

        return CopyService(self._copy_engine(), CompliancePass(self.moderator))

    def _copy_engine(self) -> TextEngine | None:
        name = self.settings.copy_model
        if not name:
            return None
        if name in self.model_hosts:
            from serving.deployments.model_host import HostedTextEngine

            return HostedTextEngine(self.registry.get(name), self.model_hosts[name])
        engine = self.load_engine(name)
        from models.engines.base import TextEngine

        if not isinstance(engine, TextEngine):
            raise ValueError(f"copy_model {name!r} is a {self.registry.get(name).task.value} model, not a text model")
        return engine

    @_built
    def images(self) -> ImageService:
        """Covers and cut-outs (the composer, no weights) and, with `image_model`, diffusion scenes; the
        pipeline loads on the first scene request (or is a hosted `ModelHost` on its own GPU)."""
        from generation.image.composer import Composer
        from generation.image.service import ImageService

        name = self.settings.image_model
        if not name:
            return ImageService(Composer())
        spec = self.registry.get(name)  # an unknown name fails now, not at the first scene
        if name in self.model_hosts:
            from serving.deployments.model_host import HostedDiffusionEngine

            return ImageService(Composer(), lambda: HostedDiffusionEngine(spec, self.model_hosts[name]))
        return ImageService(Composer(), lambda: self.load_engine(name))

    @_built
    def videos(self) -> VideoService:
        """Slideshow videos (no weights; they share the covers' composer, its cut-out cache and fonts) and, with
        `video_model`, image-to-video clips (the pipeline loads on the first clip)."""
        from generation.video.service import VideoService

        name = self.settings.video_model
        if not name:
            return VideoService(self.images.composer)
        self.registry.get(name)  # an unknown name fails now, not at the first clip
        return VideoService(self.images.composer, lambda: self.load_engine(name))

    @_built
    def translation(self) -> TranslationService:
        """Translation: OpenCC for Chinese scripts (no weights), the `translation_models` seq2seq engines and the
        copy LLM (`translation_llm`); models load on the first text they translate."""
        from generation.translate.service import TranslationService

        return TranslationService(self._translators, _TRANSLATION_HINT, self.settings.translate_char_limit)

    def _translators(self) -> list:
        from generation.translate.engines import LLMTranslator, Seq2SeqTranslator
        from generation.translate.languages import load_languages

        translators: list = []
        for name in self.settings.translation_models:
            spec = self.registry.get(name)
            translators.append(
                Seq2SeqTranslator(
                    name, _served_pairs(name, spec.options), lambda n=name: self.load_engine(n), spec.engine
                )
            )
        copy_model = self.settings.copy_model
        if self.settings.translation_llm and copy_model:
            translators.append(LLMTranslator(copy_model, lambda: self.copy.writer.engine, load_languages()))
        return translators

    @_built
    def tryon(self) -> TryOnService:
        from ar_tryon.service import TryOnService

        # Merchants' own shades: the database opens on the first request that names or manages one.
        return TryOnService(merchant_shades=lambda: self.shade_store)

    @_built
    def frames(self) -> FrameProcessor:
        """Webcam frames: through the `TryOnSessions` deployment (one session, one tracker, whichever ingress
        replica answers), or this process's try-on service when there is no such deployment."""
        from serving.deployments.tryon import LocalFrames, RemoteFrames

        if self._frames_handle is not None:
            return RemoteFrames(self._frames_handle)
        return LocalFrames(self.tryon)

    def warm_up(self) -> None:
        """Start building what the first request would otherwise wait for (the moderator)."""
        from moderation.service import LocalModeration

        if isinstance(self.moderation.backend, LocalModeration):
            self.moderation.backend.warm_up()

    def close(self) -> None:
        """Release what was built (graphs, engines, database connections)."""
        built = self._built
        if "tryon" in built:
            built["tryon"].close()
        if "copy" in built and getattr(built["copy"].writer, "engine", None) is not None:
            built["copy"].writer.engine.close()
        if "store" in built:
            built["store"].close()


def build_services(settings: Settings, **handles: Any) -> Services:
    """The services of one process; `handles` are Ray deployment handles (see `Services`)."""
    return Services(settings, **handles)


_TRANSLATION_HINT = (
    "add a registry seq2seq model that serves it to translation_models (NOTESTUDIO_TRANSLATION_MODELS; e.g. an "
    "M2M100 or NLLB entry with options.languages, or a Marian pair with options.pairs; see `notestudio models "
    "check`), or set copy_model (NOTESTUDIO_COPY_MODEL) to an LLM"
)


def _served_pairs(name: str, options: dict) -> set[tuple[str, str]]:
    """The (source, target) pairs a seq2seq spec serves (`options.pairs` or `options.languages`, checked: a bad
    option is a `ModelConfigError` naming it, when the service is built)."""
    from models.engines.translation import LanguageTable

    return LanguageTable.from_options(name, options).pairs()
