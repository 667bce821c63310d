"""Pure builders of live ``cmd`` messages, shaped like the real ones (protocol.md §11, §12, §14).

Every function returns a fresh JSON-ready dict and performs no I/O, so tests and the action
endpoints can reuse them: build a message, then ``room.broadcast(msg)``.

Users are :class:`~livepipe.sim.state.SimUser`; rooms are :class:`~livepipe.sim.state.Room`;
``ts`` is unix time in seconds (float allowed).

The builders live by family in this package (``common``, ``chat``, ``gifts``, ``users``, ``room``,
``notices``, ``mask``); every name is re-exported here, so ``messages.danmaku(...)`` works as before.
"""

from __future__ import annotations

from livepipe.sim.messages.chat import DanmakuTemplates, danmaku, dm_interaction, with_emoticons
from livepipe.sim.messages.common import (
    GIFTS,
    GUARD_COLORS,
    GUARD_NAMES,
    GUARD_PRICES,
    MEDAL_COLOR,
    id_str_for,
    mask_name,
    uid_hash,
)
from livepipe.sim.messages.gifts import guard_buy, send_gift, send_gift_v2, super_chat, user_toast_v2
from livepipe.sim.messages.mask import MASKED_CMDS, mask, needs_mask
from livepipe.sim.messages.notices import (
    PRIVATE_PREFIX,
    RED_PACKET_GIFTS,
    anchor_lot_award,
    anchor_lot_start,
    pk_battle_end,
    pk_battle_process_new,
    pk_battle_settle_v2,
    pk_battle_start_new,
    pk_winner_types,
    popularity_red_pocket_start,
    popularity_red_pocket_winner_list,
    private_to,
)
from livepipe.sim.messages.room import (
    MSG_ID_EPOCH_MS,
    ban_period_text,
    cut_off,
    live,
    live_key,
    log_in_notice,
    msg_id,
    preparing,
    room_admin_entrance,
    room_admins,
    room_block_msg,
    room_change,
    room_silent,
    stop_live_room_list,
    sub_session_key,
    warning,
)
from livepipe.sim.messages.users import (
    entry_effect,
    interact_word_v2,
    like_click,
    like_update,
    medal_change,
    online_rank_count,
    online_rank_v3,
    watched_change,
)

__all__ = [
    "GUARD_NAMES",
    "GUARD_PRICES",
    "GUARD_COLORS",
    "GIFTS",
    "MEDAL_COLOR",
    "uid_hash",
    "mask_name",
    "id_str_for",
    "danmaku",
    "with_emoticons",
    "DanmakuTemplates",
    "dm_interaction",
    "send_gift",
    "send_gift_v2",
    "super_chat",
    "guard_buy",
    "user_toast_v2",
    "interact_word_v2",
    "like_click",
    "like_update",
    "online_rank_count",
    "watched_change",
    "online_rank_v3",
    "entry_effect",
    "medal_change",
    "log_in_notice",
    "room_admins",
    "room_admin_entrance",
    "ban_period_text",
    "room_block_msg",
    "live_key",
    "sub_session_key",
    "room_change",
    "live",
    "MSG_ID_EPOCH_MS",
    "msg_id",
    "preparing",
    "stop_live_room_list",
    "warning",
    "cut_off",
    "room_silent",
    "pk_battle_start_new",
    "pk_battle_process_new",
    "pk_winner_types",
    "pk_battle_end",
    "pk_battle_settle_v2",
    "anchor_lot_start",
    "anchor_lot_award",
    "RED_PACKET_GIFTS",
    "popularity_red_pocket_start",
    "popularity_red_pocket_winner_list",
    "PRIVATE_PREFIX",
    "private_to",
    "MASKED_CMDS",
    "needs_mask",
    "mask",
]
