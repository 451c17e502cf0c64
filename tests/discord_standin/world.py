"""The stand-in's model of guilds, channels, users and members, and their Discord JSON payloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .snowflakes import SnowflakeFactory, iso_now

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADD_REACTIONS = 1 << 6
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
MANAGE_WEBHOOKS = 1 << 29
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    (VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | ADD_REACTIONS)
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_WEBHOOKS | MANAGE_MESSAGES

TEXT_CHANNEL = 0
PUBLIC_THREAD = 11


@dataclass
class User:
    id: int
    name: str
    bot: bool = False
    avatar: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": None if self.bot else self.name,
            "discriminator": "0",
            "avatar": self.avatar,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int
    position: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class Member:
    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso_now)

    def payload(self, *, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
        }
        if with_user:
            data["user"] = self.user.payload()
        return data


@dataclass
class Channel:
    """A guild text channel or a public thread (``parent`` set)."""

    id: int
    guild: Guild
    name: str
    nsfw: bool = False
    position: int = 0
    parent: Channel | None = None
    owner_id: int | None = None

    @property
    def is_thread(self) -> bool:
        return self.parent is not None

    @property
    def effective_nsfw(self) -> bool:
        # A thread follows its parent's age restriction.
        return self.parent.nsfw if self.parent is not None else self.nsfw

    def payload(self) -> dict[str, Any]:
        if self.parent is not None:
            return {
                "id": str(self.id),
                "guild_id": str(self.guild.id),
                "parent_id": str(self.parent.id),
                "owner_id": str(self.owner_id or 0),
                "name": self.name,
                "type": PUBLIC_THREAD,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso_now(),
                    "locked": False,
                    "create_timestamp": iso_now(),
                },
            }
        return {
            "id": str(self.id),
            "guild_id": str(self.guild.id),
            "name": self.name,
            "type": TEXT_CHANNEL,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": self.nsfw,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)

    @property
    def everyone(self) -> Role:
        return self.roles[self.id]  # Discord: the @everyone role id equals the guild id.

    @property
    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.is_thread]

    @property
    def threads(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.is_thread]

    def channel(self, name: str) -> Channel:
        return next(c for c in self.channels.values() if c.name == name)

    def permissions_of(self, user_id: int) -> int:
        """Guild-level resolved permissions (no channel overwrites are modelled)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        perms = self.everyone.permissions
        if member is not None:
            for rid in member.role_ids:
                perms |= self.roles[rid].permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "unavailable": False,
            "large": False,
            "member_count": len(self.members),
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "joined_at": iso_now(),
            "roles": [r.payload() for r in self.roles.values()],
            "channels": [c.payload() for c in self.text_channels],
            "threads": [c.payload() for c in self.threads],
            "members": [m.payload() for m in self.members.values()],
            "voice_states": [],
            "presences": [],
            "emojis": [],
            "stickers": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


class World:
    """All guilds/users the stand-in knows; pure data, no I/O."""

    def __init__(self, ids: SnowflakeFactory, bot_name: str = "selfiebot") -> None:
        self.ids = ids
        self.bot = User(ids.next(), bot_name, bot=True)
        self.application_id = self.bot.id  # Discord: a bot's user id equals its application id.
        self.owner = User(ids.next(), "app-owner")
        self.users: dict[int, User] = {self.bot.id: self.bot, self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}

    def new_user(self, name: str, *, bot: bool = False) -> User:
        user = User(self.ids.next(), name, bot=bot)
        self.users[user.id] = user
        return user

    def new_guild(self, name: str, *, owner: User | None = None, bot_permissions: int = BOT_PERMISSIONS) -> Guild:
        gid = self.ids.next()
        owner = owner or self.owner
        guild = Guild(gid, name, owner.id)
        guild.roles[gid] = Role(gid, "@everyone", EVERYONE_PERMISSIONS)
        bot_role = Role(self.ids.next(), self.bot.name, bot_permissions, position=1)
        guild.roles[bot_role.id] = bot_role
        guild.members[self.bot.id] = Member(self.bot, [bot_role.id])
        self.guilds[gid] = guild
        return guild

    def new_channel(self, guild: Guild, name: str, *, nsfw: bool = False) -> Channel:
        channel = Channel(self.ids.next(), guild, name, nsfw=nsfw, position=len(guild.text_channels))
        guild.channels[channel.id] = channel
        return channel

    def new_thread(self, parent: Channel, name: str, owner: User | None = None) -> Channel:
        thread = Channel(self.ids.next(), parent.guild, name, parent=parent, owner_id=(owner or self.bot).id)
        parent.guild.channels[thread.id] = thread
        return thread

    def new_member(self, guild: Guild, user: User, permissions: int = 0, role_name: str | None = None) -> Member:
        role_ids: list[int] = []
        if permissions:
            role = Role(self.ids.next(), role_name or f"{user.name}-role", permissions, position=1)
            guild.roles[role.id] = role
            role_ids.append(role.id)
        member = Member(user, role_ids)
        guild.members[user.id] = member
        return member

    def find_channel(self, channel_id: int) -> Channel | None:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild.channels[channel_id]
        return None

    def bot_permissions_in(self, channel: Channel) -> int:
        return channel.guild.permissions_of(self.bot.id)
