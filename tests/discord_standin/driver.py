"""Driver API: what tests call to build the world, act as users, and inspect/perturb the stand-in."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .records import InteractionHandle, StoredFile, StoredMessage, StoredWebhook
from .snowflakes import SnowflakeFactory
from .world import BOT_PERMISSIONS, MANAGE_GUILD, Channel, Guild, Member, User, World

if TYPE_CHECKING:
    from .gateway import Gateway
    from .server import Fault

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
OPTION_TYPES = {bool: 5, int: 4, float: 10, str: 3}


@dataclass
class DefaultWorld:
    """Two guilds; ``guild`` has #general, #nsfw (age-restricted) and a thread under #general."""

    guild: Guild
    other_guild: Guild
    general: Channel
    nsfw: Channel
    thread: Channel
    other_general: Channel
    admin: User  # has Manage Server in both guilds
    member: User  # plain member in both guilds
    stranger: User  # member of ``guild`` only, no extra permissions


class DriverMixin:
    # Provided by DiscordStandin.
    ids: SnowflakeFactory
    world: World
    gateway: Gateway
    messages: list[StoredMessage]
    files: dict[int, StoredFile]
    webhooks: dict[int, StoredWebhook]
    deleted_webhooks: dict[int, StoredWebhook]
    interactions: dict[int, InteractionHandle]
    commands: dict[int | None, list[dict[str, Any]]]
    command_puts: list[tuple[int | None, list[dict[str, Any]]]]
    faults: list[Fault]
    _message_waiters: list[tuple[Any, asyncio.Future[StoredMessage]]]
    base_url: str

    # -- world building (before connect: part of GUILD_CREATE; after: dispatched) ---------------------------------
    def add_user(self, name: str, *, bot: bool = False) -> User:
        return self.world.new_user(name, bot=bot)

    def add_guild(self, name: str, *, owner: User | None = None, bot_permissions: int = BOT_PERMISSIONS) -> Guild:
        guild = self.world.new_guild(name, owner=owner, bot_permissions=bot_permissions)
        self.gateway.dispatch("GUILD_CREATE", guild.payload())
        return guild

    def add_channel(self, guild: Guild, name: str, *, nsfw: bool = False) -> Channel:
        channel = self.world.new_channel(guild, name, nsfw=nsfw)
        self.gateway.dispatch("CHANNEL_CREATE", channel.payload())
        return channel

    def add_thread(self, parent: Channel, name: str = "thread", *, owner: User | None = None) -> Channel:
        thread = self.world.new_thread(parent, name, owner)
        self.gateway.dispatch("THREAD_CREATE", thread.payload() | {"newly_created": True})
        return thread

    def add_member(self, guild: Guild, user: User, *, permissions: int = 0) -> Member:
        """``permissions`` become one role of the member's own (e.g. ``MANAGE_GUILD`` for a server admin)."""
        member = self.world.new_member(guild, user, permissions)
        self.gateway.dispatch("GUILD_MEMBER_ADD", member.payload() | {"guild_id": str(guild.id)})
        return member

    def set_bot_permissions(self, guild: Guild, permissions: int) -> None:
        """Change the bot's role permissions (dispatches GUILD_ROLE_UPDATE)."""
        role = guild.roles[guild.members[self.world.bot.id].role_ids[0]]
        role.permissions = permissions
        self.gateway.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.payload()})

    def default_world(self) -> DefaultWorld:
        admin, member, stranger = self.add_user("alice-admin"), self.add_user("bob"), self.add_user("carol")
        guild, other = self.add_guild("Selfie Lounge"), self.add_guild("Second Server")
        general = self.add_channel(guild, "general")
        nsfw = self.add_channel(guild, "after-dark", nsfw=True)
        thread = self.add_thread(general, "beach-trip", owner=member)
        other_general = self.add_channel(other, "general")
        for g in (guild, other):
            self.add_member(g, admin, permissions=MANAGE_GUILD)
            self.add_member(g, member)
        self.add_member(guild, stranger)
        return DefaultWorld(guild, other, general, nsfw, thread, other_general, admin, member, stranger)

    # -- users acting --------------------------------------------------------------------------------------------
    async def user_says(
        self,
        channel: Channel,
        user: User,
        content: str,
        *,
        reply_to: StoredMessage | None = None,
        mentions_bot: bool = False,
        attachments: dict[str, tuple[bytes, str]] | None = None,
    ) -> StoredMessage:
        """A user posts in ``channel``; dispatched as MESSAGE_CREATE (with ``member``). ``mentions_bot`` prefixes
        ``<@bot>``. ``attachments`` maps filename -> (bytes, content_type)."""
        from .server import Upload

        bot = self.world.bot
        if mentions_bot:
            content = f"<@{bot.id}> {content}"
        body: dict[str, Any] = {"content": content}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to.id), "channel_id": str(reply_to.channel_id)}
        uploads = [Upload(i, name, ctype, data) for i, (name, (data, ctype)) in enumerate((attachments or {}).items())]
        member = channel.guild.members[user.id].payload(with_user=False)
        message = self._create_message(channel, user.payload(), body, uploads, source="user", member=member)  # type: ignore[attr-defined]
        await asyncio.sleep(0)  # let the gateway writer run
        return message

    def _interaction(
        self, itype: int, channel: Channel, user: User, data: dict[str, Any], message: StoredMessage | None = None
    ) -> InteractionHandle:
        guild = channel.guild
        member = guild.members.get(user.id)
        if member is None:
            raise LookupError(f"{user.name} is not a member of {guild.name}")
        perms = guild.permissions_of(user.id)
        channel_payload = channel.payload() | {"permissions": str(perms)}
        payload: dict[str, Any] = {
            "id": str(self.ids.next()),  # time-based: discord.py computes expiry from it
            "application_id": str(self.world.application_id),
            "type": itype,
            "data": data,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": channel_payload,
            "member": member.payload() | {"permissions": str(perms)},
            "token": self._token(),  # type: ignore[attr-defined]
            "version": 1,
            "app_permissions": str(self.world.bot_permissions_in(channel)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if message is not None:
            payload["message"] = message.payload
        handle = InteractionHandle(payload)
        self.interactions[handle.id] = handle
        self.gateway.dispatch("INTERACTION_CREATE", payload)
        return handle

    def find_command(self, guild: Guild | None, name: str, ctype: int = 1) -> dict[str, Any]:
        """The command the bot synced (guild-scoped first, then global), as stored from its PUT."""
        for scope in ([guild.id] if guild else []) + [None]:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == ctype:
                    return cmd
        synced = {s: [c["name"] for c in cmds] for s, cmds in self.commands.items()}
        raise LookupError(f"/{name} was never synced by the bot (synced: {synced})")

    def _command_data(
        self,
        guild: Guild,
        name: str,
        subcommand: str | None,
        group: str | None,
        options: dict[str, Any],
        attachments: dict[str, tuple[str, bytes, str]],
        focused: str | None = None,
    ) -> dict[str, Any]:
        cmd = self.find_command(guild, name)
        schema: list[dict[str, Any]] = cmd.get("options") or []
        path: list[tuple[str, int]] = []
        for part, ptype in ((group, 2), (subcommand, 1)):
            if part is None:
                continue
            node = next((o for o in schema if o["name"] == part and o["type"] == ptype), None)
            if node is None:
                raise LookupError(f"/{name} has no {'group' if ptype == 2 else 'subcommand'} {part!r}")
            schema = node.get("options") or []
            path.append((part, ptype))
        types = {o["name"]: o["type"] for o in schema}
        resolved: dict[str, dict[str, Any]] = {}
        leaf: list[dict[str, Any]] = []
        for opt_name, value in options.items():
            otype = types.get(opt_name) or OPTION_TYPES.get(type(value), 3)
            leaf.append(self._option(opt_name, otype, value, resolved, guild, focused == opt_name))
        for opt_name, (filename, data, ctype) in attachments.items():
            fid = self.ids.next()
            stored = StoredFile(
                fid, filename, ctype, data, f"{self.base_url}/attachments/{fid}/{quote(filename, safe='')}"
            )
            self.files[fid] = stored
            resolved.setdefault("attachments", {})[str(fid)] = stored.payload() | {"ephemeral": True}
            leaf.append({"name": opt_name, "type": 11, "value": str(fid)})
        nested = leaf
        for part, ptype in reversed(path):
            nested = [{"name": part, "type": ptype, "options": nested}]
        data: dict[str, Any] = {"id": cmd["id"], "name": name, "type": 1, "options": nested}
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]  # discord.py looks guild commands up under this id
        return data

    def _option(
        self, name: str, otype: int, value: Any, resolved: dict[str, Any], guild: Guild, focused: bool
    ) -> dict[str, Any]:
        if otype == 6 and isinstance(value, User):
            resolved.setdefault("users", {})[str(value.id)] = value.payload()
            if value.id in guild.members:
                member = guild.members[value.id].payload(with_user=False)
                resolved.setdefault("members", {})[str(value.id)] = member | {
                    "permissions": str(guild.permissions_of(value.id))
                }
            value = str(value.id)
        elif otype == 7 and isinstance(value, Channel):
            perms = str(guild.permissions_of(self.world.bot.id))
            resolved.setdefault("channels", {})[str(value.id)] = value.payload() | {"permissions": perms}
            value = str(value.id)
        option = {"name": name, "type": otype, "value": str(value) if focused else value}
        if focused:
            option["focused"] = True
        return option

    async def invoke_slash(
        self,
        guild: Guild,
        channel: Channel,
        user: User,
        name: str,
        *,
        subcommand: str | None = None,
        group: str | None = None,
        options: dict[str, Any] | None = None,
        attachments: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> InteractionHandle:
        """Run ``/name [group] [subcommand] options...`` as ``user``. ``attachments``: option -> (filename, bytes,
        content_type), served by the CDN stand-in. Option types come from the schema the bot synced."""
        assert channel.guild is guild, "channel belongs to another guild"
        data = self._command_data(guild, name, subcommand, group, options or {}, attachments or {})
        handle = self._interaction(2, channel, user, data)
        await asyncio.sleep(0)
        return handle

    async def invoke_autocomplete(
        self,
        guild: Guild,
        channel: Channel,
        user: User,
        name: str,
        *,
        focused: str,
        value: str = "",
        subcommand: str | None = None,
        group: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> InteractionHandle:
        """Type 4: the user is typing ``value`` into option ``focused``; answer is callback type 8 (``choices``)."""
        opts = dict(options or {})
        opts[focused] = value
        data = self._command_data(guild, name, subcommand, group, opts, {}, focused=focused)
        handle = self._interaction(4, channel, user, data)
        await asyncio.sleep(0)
        return handle

    async def click_button(
        self,
        message: StoredMessage,
        custom_id: str,
        user: User,
        *,
        values: list[str] | None = None,
        component_type: int = 2,
    ) -> InteractionHandle:
        """Press a button (or pick ``values`` in a select, ``component_type=3``) on a stored message."""
        channel = self.world.find_channel(message.channel_id)
        assert channel is not None
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
            data["component_type"] = 3 if component_type == 2 else component_type
        handle = self._interaction(3, channel, user, data, message=message)
        await asyncio.sleep(0)
        return handle

    async def submit_modal(
        self, channel: Channel, user: User, custom_id: str, values: dict[str, str]
    ) -> InteractionHandle:
        """Type 5 MODAL_SUBMIT: ``values`` maps text-input custom_id -> text."""
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()]
        handle = self._interaction(5, channel, user, {"custom_id": custom_id, "components": rows})
        await asyncio.sleep(0)
        return handle

    # -- inspection ----------------------------------------------------------------------------------------------
    async def wait_for_message(
        self, predicate: Callable[[StoredMessage], bool] = lambda m: True, timeout: float = 5.0
    ) -> StoredMessage:
        """First stored message (any source, existing or future, created or edited) matching ``predicate``."""
        for message in self.messages:
            if not message.deleted and predicate(message):
                return message
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._message_waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            recent = [(m.source, m.author_name, m.content[:60]) for m in self.messages[-5:]]
            raise AssertionError(f"no matching message within {timeout}s; last messages: {recent}") from None
        finally:
            self._message_waiters.remove(entry)

    def messages_in(self, channel: Channel) -> list[StoredMessage]:
        return [m for m in self.messages if m.channel_id == channel.id and not m.deleted]

    def bot_messages(self) -> list[StoredMessage]:
        """Messages the bot authored itself or through any of its webhooks / interactions."""
        return [m for m in self.messages if m.source != "user" and not m.deleted]

    @property
    def command_put_count(self) -> int:
        return len(self.command_puts)

    async def wait_until_connected(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.gateway.connected.wait(), timeout)

    @property
    def identify_intents(self) -> int | None:
        """Intents of the latest IDENTIFY."""
        return self.gateway.last_intents

    # -- perturbation --------------------------------------------------------------------------------------------
    def delete_webhook_out_of_band(self, webhook_id: int) -> None:
        """A user deleted the webhook in Discord's UI: later calls with it get 404 Unknown Webhook (10015)."""
        hook = self.webhooks.pop(webhook_id)
        self.deleted_webhooks[webhook_id] = hook
        self.gateway.dispatch("WEBHOOKS_UPDATE", {"guild_id": str(hook.guild_id), "channel_id": str(hook.channel_id)})

    def fail_next(
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 429,
        retry_after: float = 0.05,
        count: int = 1,
        message: str | None = None,
        code: int = 0,
    ) -> None:
        """Answer the next ``count`` requests matching ``method`` ('*' = any) and ``path_regex`` (searched in the
        path without ``/api/v10``) with ``status``. 429s carry ``retry_after``, ``global: false``, ``Via`` and
        ``X-RateLimit-*`` so discord.py retries them."""
        from .server import Fault

        self.faults.append(Fault(method.upper(), re.compile(path_regex), status, retry_after, count, message, code))

    async def drop_gateway(self) -> None:
        """Close the gateway socket(s) with 4000; discord.py reconnects to resume_gateway_url and RESUMEs."""
        await self.gateway.drop_connections()
