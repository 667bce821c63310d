"""The root of every exception livepipe raises on purpose, and the categories below it.

Catch :class:`LivepipeError` to catch them all, or a category to catch one kind of trouble. The
concrete classes live beside the code that raises them and are also importable from there; the
tree, with the module of each class::

    LivepipeError
    ├── ConfigurationError            what the user wrote is wrong; the message names the place
    │   ├── ConfigError               livepipe.config: the TOML files (issues lists every problem)
    │   ├── TestDefinitionError       livepipe.configtest: a [[tests]] block
    │   ├── CredentialError           livepipe.bilibili.credential: a credential table or cookie file
    │   ├── OpenPlatformError         livepipe.bilibili.open_source: open platform keys/codes missing or refused
    │   ├── UserCodeError             livepipe.components.python: a python component's module or function
    │   ├── ReloadRefused             livepipe.runtime.reload: a new configuration a reload cannot apply
    │   ├── TemplateError             livepipe.templating: a template is malformed or failed to render (also ValueError)
    │   └── (plugins: RuleError, CorpusError in livepipe_automod; CommandError, UsageProblem in livepipe_roomctl;
    │        UsageProblem in livepipe_assistant)
    ├── PluginError                   livepipe.plugins: a plugin could not be registered
    │   └── RegistryError             livepipe.registry: a component type registered badly
    ├── PipelineError                 livepipe.runtime.pipeline: could not start, or a component stopped it
    ├── DecodeError                   bytes or a message from the wire or a file are malformed
    │   ├── ProtocolError             livepipe.bilibili.protocol: broken packet framing (also ValueError)
    │   ├── MessageError              livepipe.bilibili.commands: a cmd message (also ValueError)
    │   ├── ReplayError               livepipe.components.replay: a line of a replay file
    │   └── JsonDepthError            livepipe.events: JSON nested too deeply (also ValueError)
    ├── TransportError                a connection to a service ended or could not be made
    │   ├── ConnectionEnded           livepipe.bilibili.client: a danmaku WebSocket session ended
    │   │   └── ConnectFailed, AuthFailed, LivenessTimeout, HeartbeatTimeout, Closed, SessionEnded
    │   └── NatsDisconnected          livepipe.components.nats_sink: dropped while disconnected
    ├── ServiceError                  the service answered, and the answer was no
    │   ├── ApiError                  livepipe.bilibili.api: a Bilibili HTTP API error code
    │   ├── OpenApiError              livepipe.bilibili.open_api: an open platform (开放平台) error code
    │   ├── ActionFailed              livepipe.bilibili.sinks.common: a ban, send or room action
    │   └── LoginError                livepipe.bilibili.login: a login or cookie-refresh step
    ├── SinkError                     a sink could not write
    │   ├── FileSinkError             livepipe.components.file (also OSError)
    │   ├── SqlSinkError              livepipe.components.sql_common (also from .sql): a batch could not be committed
    │   ├── WebhookError              livepipe.components.http: a request refused or out of retries
    │   ├── OverlayError              livepipe.components.overlay: its web server could not listen
    │   ├── NotifyError               livepipe.components.notify: a notification not rendered or not delivered
    │   └── PermanentFailure          livepipe.component: a sink that cannot work until something changes
    └── WrongKind                     livepipe.views: a typed view of another kind (ev.gift on a danmaku;
                                      also AttributeError)

Classes that were ``ValueError`` or ``OSError`` subclasses before the tree existed still are, so
existing ``except`` clauses keep working. Plugin authors: derive your exceptions from the category
that fits (``class RuleError(ConfigurationError)``), so embedders can catch by category.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DecodeError",
    "LivepipeError",
    "PipelineError",
    "PluginError",
    "ServiceError",
    "SinkError",
    "TransportError",
]


class LivepipeError(Exception):
    """The root: every exception livepipe raises on purpose derives from it."""


class ConfigurationError(LivepipeError):
    """What the user wrote (config, credentials, rules, tests) is wrong; the message names the place."""


class PluginError(LivepipeError):
    """A plugin could not be loaded or could not register its components."""


class PipelineError(LivepipeError):
    """The pipeline could not start, or stopped because a component asked it to."""


class DecodeError(LivepipeError):
    """Bytes or a message (from the wire or a file) are malformed and were not turned into events."""


class TransportError(LivepipeError):
    """A connection to a service (Bilibili, NATS) ended or could not be made."""


class ServiceError(LivepipeError):
    """A service answered, and the answer was an error (an API code, a refused action)."""


class SinkError(LivepipeError):
    """A sink could not write what it was given."""
