"""Buttons under every selfie. Persistent: the custom_id carries the selfie id, so they work after a restart."""

from __future__ import annotations

from typing import Any, Protocol

import discord

ACTIONS = {
    "take": ("Another take", discord.ButtonStyle.primary, "🎲"),
    "info": ("Details", discord.ButtonStyle.secondary, "ℹ️"),
    "del": ("Delete", discord.ButtonStyle.danger, "🗑️"),
}


class ButtonHandler(Protocol):
    async def __call__(self, action: str, selfie_id: int, interaction: discord.Interaction) -> None: ...


class SelfieButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"selfie:(?P<action>take|info|del):(?P<id>[0-9]{1,20})"
):
    def __init__(self, action: str, selfie_id: int) -> None:
        label, style, emoji = ACTIONS[action]
        super().__init__(
            discord.ui.Button(label=label, style=style, emoji=emoji, custom_id=f"selfie:{action}:{selfie_id}")
        )
        self.action = action
        self.selfie_id = selfie_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> SelfieButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        handler: ButtonHandler = interaction.client.selfie_buttons  # type: ignore[attr-defined]
        await handler(self.action, self.selfie_id, interaction)


def selfie_view(selfie_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(SelfieButton(action, selfie_id))
    return view
