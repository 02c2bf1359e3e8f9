"""Roles are Django groups: architects create and review tickets, reviewers review."""
from django.contrib.auth.models import AbstractBaseUser, Group

ARCHITECT = "architect"
REVIEWER = "reviewer"
ROLES = (ARCHITECT, REVIEWER)


def has_role(user: AbstractBaseUser | None, *roles: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
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
