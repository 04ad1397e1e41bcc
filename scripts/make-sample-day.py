#!/usr/bin/env python3
"""Generate docs/sample-day.ndjson: one realistic recorded day of replywatch events.

    python3 scripts/make-sample-day.py > docs/sample-day.ndjson
    python3 scripts/make-sample-day.py --stats > /dev/null   # summary on stderr

The day is Friday 2026-11-20, 00:00-24:00 Asia/Shanghai, i.e. 2026-11-19T16:00Z to
2026-11-20T16:00Z. The Amazon and eBay shops cover the same 24 hours as seen from
America/Los_Angeles: Thursday 2026-11-19 08:00 to Friday 2026-11-20 08:00 PST.
Events follow docs/events.md and are printed one JSON object per line, sorted by
`ts`. The output depends only on SEED: Python 3 standard library, no network, no clock.
See docs/sample-day.md for what the day contains.
"""

import json
import math
import random
import sys
import uuid
from datetime import datetime, timedelta, timezone

SEED = 20261120

# Fixed UTC offsets for 2026-11-20: Shanghai has no DST (+08:00) and Los Angeles is on
# PST (-08:00) after 2026-11-01. Fixed offsets keep the script free of tzdata.
SHANGHAI = 8
LOS_ANGELES = -8
CN_DAY = datetime(2026, 11, 20)     # local date of the Shanghai shops' 00:00-24:00
US_DAY = datetime(2026, 11, 19)     # local date of the LA shops' 08:00 to 08:00 next day

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

# Relative buyer load per local hour. China: quiet 01:00-08:00 (night buyers are added
# separately, a few per shop), peak in the afternoon and 20:00-22:00. US: evening peak,
# light overnight.
CN_LOAD = [0.8, 0, 0, 0, 0, 0, 0, 0, 1.5, 3.5, 5.0, 5.0, 4.0, 4.5, 5.5, 5.5,
           5.0, 4.5, 4.5, 6.0, 7.5, 8.0, 6.5, 1.5]
US_LOAD = [1.0, 0.5, 0.2, 0.2, 0.2, 0.3, 0.6, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0,
           3.0, 3.5, 4.0, 4.5, 4.5, 4.0, 3.0, 2.0]

SHOPS = [
    {
        "platform": "tmall", "shop": "tm-flagship", "tz": SHANGHAI, "ids": "tmall",
        "date": CN_DAY, "span": ("00:00", "24:00"),
        "buyer": ("tb_", 6), "load": CN_LOAD, "conversations": 235, "night": 4,
        "service": ("09:00", "23:00"),
        # leyan (paid, counted) answers during service hours; the free platform bot
        # covers the night with an "we are back at 09:00" message that does not count.
        "bot": "leyan", "bot_first": 0.55, "bot_later": 0.15, "bot_latency": (1.5, 5.0),
        "free_bot": 0.0, "night_bot": "platform",
        "human": {"median": 30, "sigma": 0.55, "slow_p": 0.03, "slow": (100, 300)},
        "after_bot": {"median": 55, "sigma": 0.6, "slow_p": 0.04, "slow": (200, 420)},
        "buyer_msgs": [0.65, 0.25, 0.10],
        "rounds": [0.33, 0.27, 0.19, 0.11, 0.06, 0.04], "gap": (15, 240),
        "agent_msgs": [0.70, 0.25, 0.05], "close_p": 0.03,
        # 20:00-20:30: livestream coupon questions, no bot answers, agents swamped.
        "burst": ("20:00", "20:30", 50, (190, 480)),
        "shifts": {
            "kf01": [("09:00:21.314", "12:00:40.331"), ("12:44:10.970", "18:02:30.154")],
            "kf02": [("09:02:05.870", "13:00:15.404"), ("13:39:50.666", "18:05:10.049")],
            "kf03": [("13:57:30.074", "23:04:20.840")],
            "kf04": [("17:55:00.548", "23:08:45.096")],
            "kf05": [("19:00:10.374", "23:01:30.596")],
        },
    },
    {
        "platform": "tmall", "shop": "tm-outlet", "tz": SHANGHAI, "ids": "tmall",
        "date": CN_DAY, "span": ("00:00", "24:00"),
        "buyer": ("tb_", 6), "load": CN_LOAD, "conversations": 110, "night": 2,
        "service": ("09:00", "23:00"),
        # No paid bot: the free platform bot answers first, a human follows up.
        "bot": None, "bot_first": 0.0, "bot_later": 0.0, "bot_latency": (0.8, 2.5),
        "free_bot": 0.5, "night_bot": "platform",
        "human": {"median": 40, "sigma": 0.6, "slow_p": 0.04, "slow": (120, 320)},
        "after_bot": {"median": 45, "sigma": 0.6, "slow_p": 0.04, "slow": (120, 320)},
        "buyer_msgs": [0.65, 0.25, 0.10],
        "rounds": [0.35, 0.28, 0.18, 0.11, 0.05, 0.03], "gap": (15, 240),
        "agent_msgs": [0.75, 0.22, 0.03], "close_p": 0.03,
        "burst": None,
        # kf11 leaves at 14:02:10, kf12 only logs in at 14:08:45: nobody online.
        "shifts": {
            "kf11": [("08:56:30.059", "14:02:10.931")],
            "kf12": [("14:08:45.519", "23:02:30.219")],
            "kf13": [("19:00:00.038", "22:30:00.088")],
        },
    },
    {
        "platform": "douyin", "shop": "dy-beauty", "tz": SHANGHAI, "ids": "douyin",
        "date": CN_DAY, "span": ("00:00", "24:00"),
        "buyer": ("dyu_", 8), "load": CN_LOAD, "conversations": 170, "night": 3,
        "service": ("08:00", "23:00"),
        "bot": "xiaoduo", "bot_first": 0.7, "bot_later": 0.25, "bot_latency": (1.0, 4.0),
        "free_bot": 0.0, "night_bot": "platform",
        "human": {"median": 18, "sigma": 0.5, "slow_p": 0.02, "slow": (60, 150)},
        "after_bot": {"median": 24, "sigma": 0.5, "slow_p": 0.02, "slow": (60, 150)},
        "buyer_msgs": [0.65, 0.25, 0.10],
        "rounds": [0.30, 0.28, 0.20, 0.12, 0.06, 0.04], "gap": (10, 200),
        "agent_msgs": [0.65, 0.28, 0.07], "close_p": 0.03,
        "burst": None,
        "shifts": {
            "kf21": [("07:52:10.444", "12:05:00.428"), ("13:00:30.071", "16:03:00.246")],
            # 20:14: kf22's client drops and reconnects; colleagues are online.
            "kf22": [("07:58:40.092", "13:10:00.564"), ("15:55:00.434", "20:14:03.250"),
                     ("20:14:41.090", "23:04:00.060")],
            "kf23": [("12:55:00.846", "21:00:00.579")],
            "kf24": [("16:00:20.126", "23:06:30.970")],
        },
    },
    {
        "platform": "xiaohongshu", "shop": "xhs-studio", "tz": SHANGHAI, "ids": "xiaohongshu",
        "date": CN_DAY, "span": ("00:00", "24:00"),
        "buyer": ("xhs_", 8), "load": CN_LOAD, "conversations": 48, "night": 2,
        "service": None,
        "bot": None, "bot_first": 0.0, "bot_later": 0.0, "bot_latency": (1.0, 3.0),
        "free_bot": 0.0, "night_bot": None,
        "human": {"median": 420, "sigma": 1.0, "slow_p": 0.05, "slow": (3600, 14400)},
        "after_bot": {"median": 420, "sigma": 1.0, "slow_p": 0.05, "slow": (3600, 14400)},
        "buyer_msgs": [0.65, 0.25, 0.10],
        "rounds": [0.45, 0.30, 0.17, 0.08], "gap": (60, 1800),
        "agent_msgs": [0.7, 0.3], "close_p": 0.0,
        "burst": None,
        "shifts": {
            "kf31": [("09:48:00.228", "12:30:00.645"), ("13:25:00.642", "18:58:00.596")],
            "kf32": [("12:58:00.970", "22:05:00.063")],
        },
    },
    {
        "platform": "amazon", "shop": "amz-us-home", "tz": LOS_ANGELES, "ids": "amazon",
        # Local times past 24:00 are on Friday 2026-11-20 (e.g. "31:31" is 07:31).
        "date": US_DAY, "span": ("08:00", "32:00"),
        "buyer": ("amzb_", 10), "load": US_LOAD, "conversations": 42, "night": 0,
        "service": None,
        "bot": None, "bot_first": 0.0, "bot_later": 0.0, "bot_latency": (1.0, 3.0),
        "free_bot": 0.0, "night_bot": None,
        "human": {"median": 5400, "sigma": 0.8, "slow_p": 0.0, "slow": (0, 0)},
        "after_bot": {"median": 5400, "sigma": 0.8, "slow_p": 0.0, "slow": (0, 0)},
        "buyer_msgs": [0.9, 0.1],
        "rounds": [0.6, 0.3, 0.1], "gap": (600, 10800),
        "agent_msgs": [1.0], "close_p": 0.0,
        "burst": None,
        "shifts": {
            # am01 is back on Friday at 07:31 and still online when the span ends
            # (an end past the span's 32:00 emits no offline event).
            "am01": [("08:04:00.590", "11:45:00.599"), ("12:30:00.406", "16:02:00.050"),
                     ("31:31:00.999", "33:00:00")],
            # am02 also clears the inbox once in the evening.
            "am02": [("09:05:00.226", "17:34:00.047"), ("20:40:00.570", "21:12:30.879")],
        },
    },
    {
        "platform": "ebay", "shop": "ebay-parts", "tz": LOS_ANGELES, "ids": "ebay",
        # eBay buyer messages arrive as email: chat-only SLAs (channels: [chat]) skip them.
        "channel": "email",
        "date": US_DAY, "span": ("08:00", "32:00"),
        "buyer": ("eb_", 8), "load": US_LOAD, "conversations": 30, "night": 0,
        "service": None,
        "bot": None, "bot_first": 0.0, "bot_later": 0.0, "bot_latency": (1.0, 3.0),
        "free_bot": 0.0, "night_bot": None,
        "human": {"median": 7200, "sigma": 0.7, "slow_p": 0.0, "slow": (0, 0)},
        "after_bot": {"median": 7200, "sigma": 0.7, "slow_p": 0.0, "slow": (0, 0)},
        "buyer_msgs": [0.9, 0.1],
        "rounds": [0.6, 0.3, 0.1], "gap": (600, 10800),
        "agent_msgs": [1.0], "close_p": 0.0,
        "burst": None,
        "shifts": {
            "eb01": [("08:02:00.136", "12:00:00.296"), ("12:45:00.429", "16:31:00.147"),
                     ("19:30:00.553", "19:52:00.120"), ("31:40:00.584", "33:00:00")],
        },
    },
]

# Hand-placed situations (local times). Each is one conversation.
SPECIALS = [
    # Nobody ever answers, not even a bot: every reply_time SLA breaches.
    ("tm-flagship", "15:47:12.405", "unanswered"),
    ("dy-beauty", "18:12:40.118", "unanswered"),
    # The free platform bot answers, no human does: counts in neither view.
    ("tm-outlet", "16:40:05.772", "free_bot_only"),
    # The paid bot answers, no human follows up: human_followup_5m / average_response.
    ("tm-flagship", "10:42:30.051", "paid_bot_only"),
    ("tm-flagship", "16:05:10.630", "paid_bot_only"),
    ("dy-beauty", "19:26:00.902", "paid_bot_only"),
    # Buyers writing while nobody is online at tm-outlet (14:02:10-14:08:45): only the
    # free bot answers until kf12 logs in.
    ("tm-outlet", "14:03:48.210", "plain"),
    ("tm-outlet", "14:06:02.955", "plain"),
    # Conversation closed by the agent, the buyer writes again a quarter of an hour
    # later: a new session, so a new first round.
    ("tm-flagship", "11:20:03.277", "close_and_return"),
    ("dy-beauty", "15:05:44.019", "close_and_return"),
    # The buyer comes back after more than the 30m idle timeout: a new session.
    ("tm-outlet", "10:15:31.540", "idle_return"),
]

# Retried webhooks: the same event delivered twice (identical line, same id).
# (shop, event type, local hour range) -> the first matching event is repeated.
DUPLICATES = [
    ("tm-flagship", "buyer_message", 10, 11),
    ("dy-beauty", "agent_message", 21, 22),
    ("amz-us-home", "buyer_message", 18, 19),
]


class Day:
    def __init__(self, rng):
        self.rng = rng
        self.events = []      # (ts_ms, seq, event)
        self.seq = 0
        self.used_ids = {}    # (platform, shop) -> set of ids

    # --- time --------------------------------------------------------------------

    @staticmethod
    def local_ms(tz, date, text):
        """Epoch ms of 'HH:MM[:SS[.mmm]]' local time after midnight starting `date`
        in a fixed-offset zone (hours past 24 fall on the next day)."""
        parts = text.split(":")
        h, m = int(parts[0]), int(parts[1])
        sec = parts[2] if len(parts) > 2 else "0"
        whole, _, frac = sec.partition(".")
        ms = int((frac + "000")[:3])
        base = date.replace(tzinfo=timezone(timedelta(hours=tz)))
        t = base + timedelta(hours=h, minutes=m, seconds=int(whole), milliseconds=ms)
        return int(t.timestamp()) * 1000 + ms

    @staticmethod
    def fmt(ms):
        t = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
        return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)

    # --- ids ---------------------------------------------------------------------

    def new_id(self, shop, ts):
        used = self.used_ids.setdefault((shop["platform"], shop["shop"]), set())
        rng = self.rng
        while True:
            style = shop["ids"]
            if style == "tmall":        # long numeric message id
                eid = str(rng.randrange(10**18, 10**19))
            elif style == "douyin":     # snowflake-like: time in the high bits
                eid = str(((ts - 1288834974657) << 22) | rng.getrandbits(22))
            elif style == "xiaohongshu":  # ObjectId-like: seconds + random
                eid = "%08x%016x" % (ts // 1000, rng.getrandbits(64))
            elif style == "amazon":     # UUID
                eid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            else:                       # ebay: 12-digit message id
                eid = str(rng.randrange(10**11, 10**12))
            if eid not in used:
                used.add(eid)
                return eid

    def buyer_key(self, shop, taken):
        prefix, n = shop["buyer"]
        while True:
            if prefix == "amzb_":
                alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
                key = prefix + "".join(self.rng.choice(alphabet) for _ in range(n))
            else:
                key = prefix + "%0*x" % (n, self.rng.getrandbits(4 * n))
            if key not in taken:
                taken.add(key)
                return key

    # --- events ------------------------------------------------------------------

    def emit(self, shop, ts, etype, conversation=None, **extra):
        ev = {"id": self.new_id(shop, ts), "platform": shop["platform"],
              "shop": shop["shop"], "type": etype}
        if conversation is not None:
            ev["conversation"] = conversation
        ev.update(extra)
        if conversation is not None and shop.get("channel"):
            ev["channel"] = shop["channel"]
        ev["ts"] = self.fmt(ts)
        self.seq += 1
        self.events.append((ts, self.seq, ev))
        return ev


class Shop:
    """One shop's day: shifts, service hours and conversation generation."""

    def __init__(self, day, cfg):
        self.day = day
        self.cfg = cfg
        self.rng = day.rng
        self.start, self.end = self.at(cfg["span"][0]), self.at(cfg["span"][1])
        self.shifts = {a: [(self.at(a0), self.at(a1)) for a0, a1 in spans]
                       for a, spans in cfg["shifts"].items()}
        if cfg["service"]:
            self.open = (self.at(cfg["service"][0]), self.at(cfg["service"][1]))
        else:
            self.open = (self.start, self.end)
        burst = cfg["burst"]
        self.burst = (self.at(burst[0]), self.at(burst[1])) if burst else None
        self.keys = set()

    def at(self, text):
        return self.day.local_ms(self.cfg["tz"], self.cfg["date"], text)

    # --- staffing ----------------------------------------------------------------

    def online(self, t):
        return sorted(a for a, spans in self.shifts.items() if any(s <= t < e for s, e in spans))

    def next_online(self, t):
        starts = [s for spans in self.shifts.values() for s, e in spans if s >= t]
        return min(starts) if starts else None

    def agent_status_events(self):
        for agent, spans in self.shifts.items():
            for s, e in spans:
                self.day.emit(self.cfg, s, "agent_status", agent=agent, status="online")
                if e < self.end:
                    self.day.emit(self.cfg, e, "agent_status", agent=agent, status="offline")

    # --- timing ------------------------------------------------------------------

    def in_service(self, t):
        return self.open[0] <= t < self.open[1]

    def in_burst(self, t):
        return self.burst is not None and self.burst[0] <= t < self.burst[1]

    def sec(self, lo, hi):
        return int(self.rng.uniform(lo, hi) * SECOND)

    def human_delay(self, after_bot, burst):
        if burst:
            return self.sec(*self.cfg["burst"][3])
        p = self.cfg["after_bot" if after_bot else "human"]
        if p["slow_p"] and self.rng.random() < p["slow_p"]:
            return self.sec(*p["slow"])
        d = p["median"] * math.exp(p["sigma"] * self.rng.gauss(0, 1))
        return int(max(4.0, d) * SECOND)

    def human_reply_at(self, want, agent):
        """When and by whom a human reply wanted at `want` is sent, or None."""
        here = self.online(want)
        if here:
            return want, (agent if agent in here else self.rng.choice(here))
        back = self.next_online(want)
        if back is None:
            return None
        # Backlog after a login: read, then answer.
        t = back + self.sec(25, 240)
        here = self.online(t)
        return (t, self.rng.choice(here)) if here else None

    def pick(self, weights):
        return self.rng.choices(range(1, len(weights) + 1), weights=weights)[0]

    # --- conversations -----------------------------------------------------------

    def conversation(self, t, key=None, special=None):
        cfg, day, rng = self.cfg, self.day, self.rng
        key = key or self.day.buyer_key(cfg, self.keys)
        if special in ("unanswered", "free_bot_only", "paid_bot_only", "close_and_return"):
            n_rounds = 1
        elif special == "idle_return":
            n_rounds = 3
        else:
            n_rounds = self.pick(cfg["rounds"])
        agent = None
        first_of_session = True
        for r in range(n_rounds):
            if t >= self.end:
                return
            # The buyer's messages of this round.
            start = t
            for i in range(self.pick(cfg["buyer_msgs"])):
                if i:
                    t += self.sec(3, 25)
                if t >= self.end:
                    return
                day.emit(cfg, t, "buyer_message", key)
            last_buyer = t
            if special == "unanswered":
                return
            burst = self.in_burst(start)

            # A bot may answer first.
            bot = None
            if special == "free_bot_only":
                bot = "platform"
            elif special == "paid_bot_only":
                bot = cfg["bot"]
            elif not burst and self.in_service(start):
                p = cfg["bot_first"] if first_of_session else cfg["bot_later"]
                if cfg["bot"] and rng.random() < p:
                    bot = cfg["bot"]
                elif cfg["free_bot"] and rng.random() < cfg["free_bot"]:
                    bot = "platform"
            if bot is None and cfg["night_bot"] and not self.online(start):
                # Nobody logged in (night, or a staffing gap): the free bot's notice.
                bot = cfg["night_bot"]
            bot_at = None
            if bot:
                bot_at = last_buyer + self.sec(*cfg["bot_latency"])
                if bot_at >= self.end:
                    return
                day.emit(cfg, bot_at, "bot_message", key, bot=bot)
                t = bot_at
            if special in ("free_bot_only", "paid_bot_only"):
                return

            # A human answers (now, or when someone is back online).
            want = max(start + self.human_delay(bot is not None, burst),
                       last_buyer + self.sec(2, 8),
                       (bot_at or 0) + self.sec(2, 6))
            reply = self.human_reply_at(want, agent)
            if reply is None or reply[0] >= self.end:
                return
            t, agent = reply
            for i in range(self.pick(cfg["agent_msgs"])):
                if i:
                    t += self.sec(5, 40)
                if t >= self.end:
                    return
                day.emit(cfg, t, "agent_message", key, agent=agent)
            first_of_session = False

            if special == "close_and_return":
                t += self.sec(30, 120)
                day.emit(cfg, t, "conversation_closed", key)
                self.conversation(t + self.sec(12 * 60, 16 * 60), key=key)
                return
            if special == "idle_return" and r == 0:
                # Back after 55 minutes: past the 30m idle timeout.
                t += self.sec(54 * 60, 56 * 60)
                first_of_session = True
                continue
            if r < n_rounds - 1:
                if rng.random() < 0.05:
                    t += self.sec(35 * 60, 150 * 60)    # comes back later: new session
                    first_of_session = True
                else:
                    t += self.sec(*cfg["gap"])
        if cfg["close_p"] and rng.random() < cfg["close_p"]:
            t += self.sec(20, 180)
            if t < self.end:
                day.emit(cfg, t, "conversation_closed", key)

    def random_start(self):
        hours = range((self.end - self.start) // HOUR)
        first = int(self.cfg["span"][0][:2])
        load = [self.cfg["load"][(first + h) % 24] for h in hours]
        hour = self.rng.choices(hours, weights=load)[0]
        return self.start + hour * HOUR + self.rng.randrange(HOUR)

    def generate(self):
        cfg = self.cfg
        self.agent_status_events()
        starts = [self.random_start() for _ in range(cfg["conversations"])]
        # A few night buyers between 01:00 and 08:00, answered in the morning.
        starts += [self.at("01:00") + self.rng.randrange(7 * HOUR) for _ in range(cfg["night"])]
        if self.burst:
            b0, b1 = self.burst
            starts += [b0 + self.rng.randrange(b1 - b0) for _ in range(cfg["burst"][2])]
        for t in sorted(starts):
            self.conversation(t)
        for shop, when, kind in SPECIALS:
            if shop == cfg["shop"]:
                self.conversation(self.at(when), special=kind)


def main():
    rng = random.Random(SEED)
    day = Day(rng)
    shops = {}
    for cfg in SHOPS:
        shops[cfg["shop"]] = Shop(day, cfg)
        shops[cfg["shop"]].generate()

    events = sorted(day.events, key=lambda e: (e[0], e[1]))
    lines = []
    pending = list(DUPLICATES)
    for ts, _, ev in events:
        line = json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
        lines.append(line)
        for dup in pending:
            shop, etype, h0, h1 = dup
            s = shops.get(ev["shop"])
            if (ev["shop"] == shop and ev["type"] == etype
                    and s.at("%02d:00" % h0) <= ts < s.at("%02d:00" % h1)):
                lines.append(line)   # the webhook was retried
                pending.remove(dup)
                break
    if pending:
        raise SystemExit("no event found for duplicate %r" % (pending,))
    sys.stdout.write("\n".join(lines) + "\n")

    if "--stats" in sys.argv[1:]:
        counts = {}
        for _, _, ev in events:
            k = (ev["shop"], ev["type"])
            counts[k] = counts.get(k, 0) + 1
        for k in sorted(counts):
            print("%-12s %-20s %5d" % (k[0], k[1], counts[k]), file=sys.stderr)
        print("lines: %d (%d duplicates)" % (len(lines), len(DUPLICATES)), file=sys.stderr)


if __name__ == "__main__":
    main()
