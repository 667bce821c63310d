"""Deterministic synthetic viewers for simulated rooms.

Every name, uid and face here is invented from a seeded RNG; nothing is taken from real users.
The same ``(seed, room_id)`` always yields the same population.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from livepipe.sim.state import Room, SimUser

_SYLLABLES_CN = "云月风星雨雪山海林光夜晨花叶竹梅鱼鹿猫狐兔熊糖茶橙柚桃橘墨青白蓝紫萤歌梦语"
_WORDS_EN = [
    "pixel", "mochi", "tofu", "nova", "lumen", "quill", "pebble", "ember", "kiwi", "orbit",
    "sprout", "comet", "maple", "cider", "puffin", "vapor", "koi", "biscuit", "tide", "zephyr",
]  # fmt: skip
_SUFFIX = ["", "", "", "酱", "君", "_official", "233", "666", "z", "Q"]

#: invented emoticon-like tokens and phrases for synthetic danmaku text
PHRASES = [
    "来了来了", "晚上好", "主播好", "哈哈哈哈", "好耶", "草", "这操作可以", "前方高能", "打卡",
    "awsl", "再来一局", "好听", "下饭", "加油", "nice", "gg", "妙啊", "?", "666", "这波不亏",
    "主播今天播多久", "哈哈哈这也行", "冲冲冲", "晚安", "第一次来", "点歌点歌", "[打call]", "[妙]",
    "好家伙", "前排", "弹幕护体", "红豆泥", "我悟了", "学到了", "xswl", "呜呜呜", "太强了",
]  # fmt: skip


def invent_name(rng: random.Random) -> str:
    """A plausible-looking but invented display name."""
    kind = rng.random()
    if kind < 0.45:
        core = "".join(rng.choice(_SYLLABLES_CN) for _ in range(rng.randint(2, 4)))
    elif kind < 0.8:
        core = rng.choice(_WORDS_EN) + rng.choice(_WORDS_EN).capitalize()
    else:
        core = rng.choice(_WORDS_EN) + str(rng.randint(1, 99999))
    return core + rng.choice(_SUFFIX)


def fake_face(uid: int) -> str:
    """A face URL of the real shape whose file name is a hash of the uid (not a real image)."""
    h = hashlib.sha1(f"face:{uid}".encode()).hexdigest()
    return f"https://i0.hdslb.com/bfs/face/{h}.jpg"


@dataclass
class Population:
    """The viewers of one room: everyone, plus who holds the room's medal, guards and admins."""

    room_id: int
    users: list[SimUser] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)
    medal_name: str = ""

    def by_uid(self, uid: int) -> SimUser | None:
        """Look up a member by uid."""
        for u in self.users:
            if u.uid == uid:
                return u
        return None


def medal_name_for(room: Room) -> str:
    """A short invented fan-medal name for a room."""
    rng = random.Random(room.room_id * 7919)
    return "".join(rng.choice(_SYLLABLES_CN) for _ in range(2))


def make_population(room: Room, seed: int, size: int = 150) -> Population:
    """Build the deterministic population of ``room`` for ``seed``."""
    rng = random.Random(f"{seed}:{room.room_id}")
    medal = medal_name_for(room)
    pop = Population(room_id=room.room_id, medal_name=medal)
    seen: set[int] = {room.owner_uid}
    for _ in range(size):
        uid = rng.randint(10_000_000, 3_999_999_999)
        while uid in seen:
            uid = rng.randint(10_000_000, 3_999_999_999)
        seen.add(uid)
        level = min(60, max(1, int(rng.gauss(18, 10))))
        has_medal = rng.random() < 0.45
        r = rng.random()
        guard = 3 if r < 0.06 else 2 if r < 0.075 else 1 if r < 0.078 else 0
        if guard:
            has_medal = True
        pop.users.append(
            SimUser(
                uid=uid,
                uname=invent_name(rng),
                level=level,
                medal_level=rng.randint(1, 40) if has_medal else 0,
                medal_name=medal if has_medal else "",
                guard_level=guard,
                face=fake_face(uid),
            )
        )
    for u in rng.sample(pop.users, k=min(3, len(pop.users))):
        pop.admins.append(u.uid)
    return pop
