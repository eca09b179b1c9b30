"""ACTIVATE_VERSION once per full-table stream, so targets can drop the rows a full listing
no longer has (with the tap's `emit_activate_version_messages` setting)."""

from __future__ import annotations

from singer_sdk.streams import Stream


class FullTableVersion(Stream):
    """Announce a stream's version once per sync, not once per parent record as the SDK
    would for a child stream."""

    _version_announced = False

    @property
    def emit_activate_version_messages(self) -> bool:  # type: ignore[override]
        if self._version_announced or not self.config.get("emit_activate_version_messages"):
            return False
        self._version_announced = True
        return True
