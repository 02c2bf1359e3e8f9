"""Roles are Django groups: architects create and review tickets, reviewers review.

The API checks a role on every write, so token authentication fetches the user's roles in the same query
as the token (TokenWithRolesAuthentication) and has_role reads them from the user, not the database.
"""
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

ARCHITECT = "architect"
REVIEWER = "reviewer"
ROLES = (ARCHITECT, REVIEWER)
# Set on a user whose roles came with its authentication; absent, has_role asks the database.
KNOWN_ROLES_ATTRIBUTE = "factory_roles"


def has_role(user: AbstractBaseUser | None, *roles: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    known = getattr(user, KNOWN_ROLES_ATTRIBUTE, None)
    if known is not None:
        return not known.isdisjoint(roles)
    return user.groups.filter(name__in=roles).exists()


def can_write_tickets(user: AbstractBaseUser | None) -> bool:
    return has_role(user, ARCHITECT)


def can_review(user: AbstractBaseUser | None) -> bool:
    return has_role(user, ARCHITECT, REVIEWER)


def grant_role(user: AbstractBaseUser, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)


class TokenWithRolesAuthentication(TokenAuthentication):
    """DRF's token authentication, with the user's roles fetched in the same query as the token and its user."""

    def authenticate_credentials(self, key: str):
        model = self.get_model()
        roles = Group.objects.filter(user=OuterRef("user_id"), name__in=ROLES).values("name")
        try:
            token = model.objects.select_related("user").annotate(role_names=ArraySubquery(roles)).get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        setattr(token.user, KNOWN_ROLES_ATTRIBUTE, frozenset(token.role_names))
        return token.user, token
