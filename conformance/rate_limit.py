"""GOV.UK Notify's API rate limit, restated with its own pieces, against a real Redis.

`token_bucket_rate_limit_exceeded` is alphagov/notifications-api's (app/notifications/
validators.py at 8ea2366): the bucket of a service and key type is `<service id>-tokens-<key
type>`, refilled at `rate_limit / 60` tokens a second up to `min(ceil(rate_limit / 3) + 1,
1000)`, at least 0; over the limit when fewer than 1 token is left. It runs Notify's own Lua
script (notify_tally_bucket.lua, the string notifications-utils registers) through redis-py,
as notifications-utils' `get_remaining_bucket_tokens` does, with `time()` for now.

GC Notify's and VA Notify's API rate limit, `check_service_over_api_rate_limit(_and_update_rate)`
(cds-snc/notification-api app/notifications/validators.py at 72e3ae1; department-of-veterans-
affairs/notification-api at 742080a), is a sliding window: `exceeded_rate_limit` of their
notifications-utils forks (cds-snc/notifier-utils notifications_utils/clients/redis/
redis_client.py at ec2de5f; department-of-veterans-affairs/notification-utils at ce3a68a, the
same code) on the sorted set `<service id>-<key type>` (`rate_limit_cache_key`), 60 seconds.

The crate's Redis backend must share these buckets and windows both ways: the Rust tests drive
this file.

    python rate_limit.py URL take SERVICE_ID KEY_TYPE RATE_LIMIT N
        N requests of that service and key type; prints one line of JSON: the tokens left
        after each, as Notify's script returned them.
    python rate_limit.py URL tally KEY NOW REPLENISH_PER_SEC BUCKET_MAX BUCKET_MIN
        one run of the script with these arguments; prints the tokens left.
    python rate_limit.py URL window SERVICE_ID KEY_TYPE RATE_LIMIT N
        N requests of that service and key type through GC Notify's check; prints one line of
        JSON: whether each was over the limit.
    python rate_limit.py URL replay KEY LIMIT NOW [NOW ...]
        `exceeded_rate_limit` at each of these times in turn; prints one line of JSON:
        {"over": [whether each was over], "set": [[member, repr(score)], ...] (the sorted set
        after)}.
"""

from __future__ import annotations

import json
import pathlib
import sys
from math import ceil
from time import time

import redis

TOKEN_BUCKET_MAX = 1_000  # app/constants.py
TOKEN_BUCKET_MIN = 0
SECONDS_IN_1_MINUTE = 60


def notify_script() -> str:
    """The script exactly as Notify registers it (the file's leading comment removed)."""
    text = (pathlib.Path(__file__).parent / "notify_tally_bucket.lua").read_text()
    lines = text.split("\n")
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "\n".join(lines)


class Notify:
    """The two Notify functions involved, over one Redis connection."""

    def __init__(self, url: str):
        self.redis = redis.Redis.from_url(url)
        self.script = self.redis.register_script(notify_script())

    def get_remaining_bucket_tokens(self, key, replenish_per_sec, bucket_max, bucket_min, now=None):
        """notifications-utils' RedisClient.get_remaining_bucket_tokens (Redis reachable)."""
        now = time() if now is None else now
        return self.script(args=[key, now, replenish_per_sec, bucket_max, bucket_min])

    def token_bucket_rate_limit_exceeded(self, service_id: str, rate_limit: int, key_type: str):
        """notifications-api's token_bucket_rate_limit_exceeded: (exceeded, remaining)."""
        remaining = self.get_remaining_bucket_tokens(
            key=f"{service_id}-tokens-{key_type}",
            replenish_per_sec=rate_limit / SECONDS_IN_1_MINUTE,
            bucket_max=min(ceil(rate_limit / 3) + 1, TOKEN_BUCKET_MAX),
            bucket_min=TOKEN_BUCKET_MIN,
        )
        return remaining < 1, remaining


class GcNotify:
    """GC Notify's (and VA Notify's) rate limit, over one Redis connection."""

    def __init__(self, url: str):
        self.redis_store = redis.Redis.from_url(url)

    def exceeded_rate_limit(self, cache_key, limit, interval, now=None):
        """notifications-utils' RedisClient.exceeded_rate_limit (Redis reachable); `now` stands
        for its `time()` when given."""
        pipe = self.redis_store.pipeline()
        when = time() if now is None else now
        pipe.zadd(cache_key, {when: when})
        pipe.zremrangebyscore(cache_key, "-inf", when - interval)
        pipe.zcard(cache_key)
        pipe.expire(cache_key, interval)
        result = pipe.execute()
        return result[2] > limit

    def check_service_over_api_rate_limit(self, service_id: str, key_type: str, rate_limit: int):
        """notification-api's check, API_RATE_LIMIT_ENABLED and REDIS_ENABLED: whether it
        raises RateLimitError."""
        cache_key = "{}-{}".format(str(service_id), key_type)  # rate_limit_cache_key
        interval = 60
        return self.exceeded_rate_limit(cache_key, rate_limit, interval)


def main(argv: list[str]) -> int:
    url, command, *args = argv
    if command == "window":
        gc = GcNotify(url)
        service_id, key_type, rate_limit, n = args
        over = [
            gc.check_service_over_api_rate_limit(service_id, key_type, int(rate_limit))
            for _ in range(int(n))
        ]
        print(json.dumps(over))
        return 0
    if command == "replay":
        gc = GcNotify(url)
        key, limit, *times = args
        over = [gc.exceeded_rate_limit(key, int(limit), 60, float(now)) for now in times]
        members = gc.redis_store.zrange(key, 0, -1, withscores=True)
        # Scores as their repr: a JSON reader need not parse a float exactly.
        print(json.dumps({"over": over, "set": [[m.decode(), repr(s)] for m, s in members]}))
        return 0
    notify = Notify(url)
    if command == "take":
        service_id, key_type, rate_limit, n = args
        remaining = [
            notify.token_bucket_rate_limit_exceeded(service_id, int(rate_limit), key_type)[1]
            for _ in range(int(n))
        ]
        print(json.dumps(remaining))
    elif command == "tally":
        key, now, replenish_per_sec, bucket_max, bucket_min = args
        print(notify.get_remaining_bucket_tokens(key, replenish_per_sec, bucket_max, bucket_min, now))
    else:
        print(f"unknown command {command!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
