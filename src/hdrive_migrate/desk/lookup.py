"""Finding the person a caller is: by UPN, by on-premises account name or by display name, as
the workspace knows them (users, the names preflight recorded, sam_cache)."""

from typing import NamedTuple

from sqlite_utils import Database

# A pick list longer than this helps nobody: the analyst types more of the name instead.
MAX_MATCHES = 20
# Shorter fragments of a display name match too many people to be worth listing.
MIN_FRAGMENT = 3


class Match(NamedTuple):
    """A user a query found: what a pick list shows of them, and no more."""

    upn: str
    display_name: str | None


class Found(NamedTuple):
    """The users a query names, best first (at most MAX_MATCHES); MORE when others match."""

    matches: list[Match]
    more: bool = False


def find_users(db: Database, query: str) -> Found:
    """The users QUERY (any case, trimmed) names, from the first of these that finds anyone:

    1. the user whose UPN it is;
    2. those whose sAMAccountName it is (a `DOMAIN\\` prefix ignored): as preflight recorded
       it from the tenant, as `users import --resolve-sam` found it, or as their home folder
       is named (H: drives are named after the account);
    3. those whose display name it is;
    4. those whose display name holds it, for MIN_FRAGMENT characters or more, by name.
    """
    text = query.strip()
    if not text:
        return Found([])
    for tier in (_by_upn, _by_account, _by_name, _by_fragment):
        found = tier(db, text)
        if found:
            return Found(found[:MAX_MATCHES], more=len(found) > MAX_MATCHES)
    return Found([])


def _rows(db: Database, sql: str, params: dict) -> list[Match]:
    return [Match(*row) for row in db.execute(sql, params).fetchall()]


def _by_upn(db: Database, text: str) -> list[Match]:
    return _rows(db, "SELECT upn, display_name FROM users WHERE upn = :q", {"q": text})


def _by_account(db: Database, text: str) -> list[Match]:
    account = text.rpartition("\\")[2]
    sql = """
        SELECT upn, display_name FROM users WHERE sam_account_name = :q OR folder = :q
        UNION
        SELECT u.upn, u.display_name FROM sam_cache AS c JOIN users AS u ON u.upn = c.upn
        WHERE c.sam = :q
        ORDER BY upn LIMIT :limit"""
    return _rows(db, sql, {"q": account, "limit": MAX_MATCHES + 1}) if account else []


def _by_name(db: Database, text: str) -> list[Match]:
    sql = """SELECT upn, display_name FROM users WHERE display_name = :q
        ORDER BY upn LIMIT :limit"""
    return _rows(db, sql, {"q": text, "limit": MAX_MATCHES + 1})


def _by_fragment(db: Database, text: str) -> list[Match]:
    if len(text) < MIN_FRAGMENT:
        return []
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    sql = """SELECT upn, display_name FROM users WHERE display_name LIKE :p ESCAPE '\\'
        ORDER BY display_name, upn LIMIT :limit"""
    return _rows(db, sql, {"p": pattern, "limit": MAX_MATCHES + 1})
