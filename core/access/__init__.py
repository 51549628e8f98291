"""Who may use the console and the API: users, sessions, API tokens, roles and scopes, throttling."""

from core.access.limits import OpeningLimit
from core.access.roles import ROLE_SCOPES, Principal, Role, Scope
from core.access.sessions import SessionPolicy, Sessions, csrf_matches, csrf_token
from core.access.throttle import LoginThrottle
from core.access.tokens import ApiTokenInfo, ApiTokens
from core.access.users import ConsoleUser, ConsoleUsers

__all__ = [
    "ROLE_SCOPES",
    "ApiTokenInfo",
    "ApiTokens",
    "ConsoleUser",
    "ConsoleUsers",
    "LoginThrottle",
    "OpeningLimit",
    "Principal",
    "Role",
    "Scope",
    "SessionPolicy",
    "Sessions",
    "csrf_matches",
    "csrf_token",
]
