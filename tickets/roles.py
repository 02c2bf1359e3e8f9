"""Roles are Django groups: architects create and review tickets, reviewers review.

The API checks a role on every write, so token authentication fetches the user's roles in the same query
as the token (TokenWithRolesAuthentication) and has_role reads them from the user, not the database.
"""
import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connection
from django.db.models import ManyToManyField
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from lib.sqlnames import column
from tickets import tokencache

ARCHITECT = "architect"
REVIEWER = "reviewer"
ROLES = (ARCHITECT, REVIEWER)
# Set on a user whose roles came with its authentication; absent, has_role asks the database.
KNOWN_ROLES_ATTRIBUTE = "factory_roles"
# The column of token_user_sql() with the names of the user's roles.
ROLE_NAMES_COLUMN = "role_names"


def signed_in(user: User | AnonymousUser) -> User:
    """The request's user where the view already requires a login (DRF's IsAuthenticated, login_required, the
    admin): an anonymous user cannot get there, and is refused if it ever does."""
    if isinstance(user, AnonymousUser):
        raise PermissionDenied("Sign in first.")
    return user


def has_role(user: User | AnonymousUser | None, *roles: str) -> bool:
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    known = getattr(user, KNOWN_ROLES_ATTRIBUTE, None)
    if known is not None:
        return not known.isdisjoint(roles)
    return user.groups.filter(name__in=roles).exists()


def can_write_tickets(user: User | AnonymousUser | None) -> bool:
    return has_role(user, ARCHITECT)


def can_review(user: User | AnonymousUser | None) -> bool:
    return has_role(user, ARCHITECT, REVIEWER)


def grant_role(user: User, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)


class TokenWithRolesAuthentication(TokenAuthentication):
    """DRF's token authentication in one prepared statement: the token's user with its roles.

    Every API request pays it, so it skips the ORM's compilation of a joined and annotated query (a third
    of the time on the development machine), and what it found is remembered (tickets.tokencache) until a
    token, user or role changes; request.auth is the token's key.
    """

    def authenticate_credentials(self, key: str) -> tuple[User, str]:
        found = tokencache.cached(key)
        if found is None:
            before = tokencache.Snapshot()
            user = next(iter(get_user_model().objects.raw(token_user_sql(), [list(ROLES), key])), None)
            if user is None:
                raise exceptions.AuthenticationFailed("Invalid token.")
            # The raw query's extra column, which the model class does not declare
            found = user, frozenset(getattr(user, ROLE_NAMES_COLUMN))
            tokencache.remember(key, *found, before=before)
        user, roles = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        setattr(user, KNOWN_ROLES_ATTRIBUTE, roles)
        return user, key


@functools.cache
def token_user_sql() -> str:
    """The user of a token (%s: the key) with the names of its groups among the roles (%s: a list)."""
    quote = connection.ops.quote_name
    users, tokens, groups = get_user_model()._meta, Token._meta, Group._meta
    membership = users.get_field("groups")
    through = membership.remote_field.through if isinstance(membership, ManyToManyField) else None
    if through is None:
        raise ImproperlyConfigured("The user model's groups must be a many-to-many field with a through table")
    through_table = quote(through._meta.db_table)
    user_pk = quote(column(users.pk))
    roles = (f"ARRAY(SELECT g.{quote('name')} FROM {quote(groups.db_table)} g JOIN {through_table} m "
             f"ON m.{quote(membership.m2m_reverse_name())} = g.{quote(column(groups.pk))} "
             f"WHERE m.{quote(membership.m2m_column_name())} = u.{user_pk} AND g.{quote('name')} = ANY(%s))")
    return (f"SELECT u.*, {roles} AS {ROLE_NAMES_COLUMN} FROM {quote(users.db_table)} u JOIN {quote(tokens.db_table)} t "
            f"ON t.{quote(column(tokens.get_field('user')))} = u.{user_pk} WHERE t.{quote('key')} = %s")

