-- GOV.UK Notify's token-bucket script, exactly as Notify's API registers it: the string passed
-- to register_script("tally-bucket-rate-limit") in alphagov/notifications-utils
-- notifications_utils/clients/redis/redis_client.py at a9af02ae (MIT licence, Crown
-- Copyright, Government Digital Service). The conformance oracle runs it; the crate's own
-- script (notify_auth::ratelimit::TALLY_SCRIPT) must answer and store as it does.

            local key = ARGV[1]
            local now = ARGV[2]
            local replenish_per_sec = ARGV[3]
            local bucket_max = ARGV[4]
            local bucket_min = ARGV[5]

            local last_replenished, tokens_remaining
            local value = redis.call('get', key)
            if value == false or string.len(value) < 12 then
                last_replenished = now
                tokens_remaining = bucket_max
            else
                last_replenished, tokens_remaining = struct.unpack('di4', value)
            end

            local elapsed = math.max(now - last_replenished, 0)
            local replenishment = math.floor(elapsed * replenish_per_sec)
            tokens_remaining = math.min(tokens_remaining + replenishment, bucket_max)
            tokens_remaining = math.max(tokens_remaining - 1, bucket_min)
            -- critically, we do not use `now` for our new value of
            -- last_replenished, but the timestamp made-up to the
            -- last whole token we were able to grant in this
            -- iteration. this avoids incorrect behaviour due to
            -- rounding.
            last_replenished = last_replenished + (replenishment / replenish_per_sec)

            value = struct.pack('di4', last_replenished, tokens_remaining)
            redis.call('set', key, value)

            return tokens_remaining
            