"""Reading a TOML file a person wrote: every way it can be unreadable is a ``ConfigError`` naming the file."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ConfigError


def read_toml(path: Path, *, parse_float: Callable[[str], Any] = float) -> dict[str, Any]:
    """The document in ``path``; unreadable, not UTF-8, not TOML, too deep or a huge integer → ``ConfigError``."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"), parse_float=parse_float)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and inline tables
        raise ConfigError(f"{path}: not valid TOML (arrays or tables nested too deeply)") from None
    except ValueError:  # tomllib lets int()'s limit through: an integer of more than 4,300 digits
        raise ConfigError(f"{path}: not valid TOML (a value Python cannot read, such as a huge integer)") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
