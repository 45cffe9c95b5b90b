"""What streams and signaling channels share: their identity, a Status that must be ACTIVE, and a Version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ResourceInUseException, VersionMismatchException
from .identifiers import new_version, short_id


class Versioned:
    """Mixin of a resource with ``name``, ``arn``, ``status`` and ``version`` (the dataclass declares them).

    Updates check the caller's CurrentVersion and issue a new Version; most
    operations need the resource ACTIVE.
    """

    #: How errors name the resource ("stream", "signaling channel") and its version ("stream", "channel").
    kind: ClassVar[str]
    version_of: ClassVar[str]
    name: str
    arn: str
    status: str
    version: str

    @property
    def endpoint_id(self) -> str:
        """Stable 8-hex id used in the resource's endpoint host names."""
        return short_id(self.arn)

    def require_active(self) -> None:
        if self.status != "ACTIVE":
            raise ResourceInUseException(f"The {self.kind} {self.name} is {self.status}, not ACTIVE.")

    def check_version(self, current_version: str | None) -> None:
        """A CurrentVersion given must be the latest one."""
        if current_version is not None and current_version != self.version:
            raise VersionMismatchException(
                f"The CurrentVersion {current_version} does not match the {self.version_of}'s latest version."
            )

    def check_update(self, current_version: str | None) -> None:
        """An update may go ahead: the resource is ACTIVE and at the caller's CurrentVersion."""
        self.require_active()
        self.check_version(current_version)

    def bump_version(self) -> None:
        self.version = new_version()


@dataclass
class Resource(Versioned):
    """The identity of a stream or signaling channel."""

    name: str
    arn: str
    region: str
    account_id: str
    creation_time: float
