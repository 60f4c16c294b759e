"""Who a request acts for: an organization and its roles."""

import uuid
from dataclasses import dataclass

from app.kit.problems import Forbidden


@dataclass(frozen=True)
class Principal:
    organization_id: uuid.UUID
    roles: tuple[str, ...]

    def require_role(self, *roles: str) -> None:
        if not set(roles) & set(self.roles):
            raise Forbidden(
                f"This needs the role {' or '.join(roles)}; your organization has "
                f"{', '.join(self.roles) or 'no role'}.",
                required_roles=list(roles),
            )
