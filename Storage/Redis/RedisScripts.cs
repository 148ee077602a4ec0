namespace ChatNode.Storage.Redis;

/// <summary>
/// Lua scripts that keep a chat's invariants atomic on the master of the chat's slot. All keys a script touches
/// share the chat's hash tag. The chat clock (field <c>ts</c>, microseconds) is Redis <c>TIME</c> forced to
/// increase strictly per chat, so inbox scores order a chat's items even across a failover to a replica whose
/// clock is behind. Numbers leave Lua through <c>string.format('%d')</c>: Lua's default conversion would round
/// microsecond timestamps. Keys whose life slides with activity are kept alive with <c>keep</c>: an <c>EXPIRE</c> to
/// TTL + 5 % only once less than the TTL is left, so the hot path writes (and replicates) it once per 5 % of the TTL
/// instead of at every message, and a key still lives at least its TTL after its last activity.
/// </summary>
internal static class RedisScripts
{
    private const string Keep = """
        local function extend(key, ttl_ms) redis.call('PEXPIRE', key, ttl_ms + math.ceil(ttl_ms / 20)) end
        local function pkeep(key, ttl_ms)
          ttl_ms = tonumber(ttl_ms)
          if redis.call('PTTL', key) < ttl_ms then extend(key, ttl_ms) end
        end
        local function keep(key, ttl_s) pkeep(key, tonumber(ttl_s) * 1000) end
        """;

    // One inbox add, shared by AddToInbox and AddToUserInboxes. Returns 1 if added or already present, 0 if refused as
    // acknowledged, 2 if the inbox holds max entries already. An inbox its client keeps up with is emptied by acks and
    // so new at each message: its TTL is then set outright rather than read first.
    private const string AddOne = Keep + """

        local function add_one(inbox, acked, id, score, ttl_s, max)
          if redis.call('ZSCORE', acked, id) then return 0 end
          local n = redis.call('ZCARD', inbox)
          if n >= tonumber(max) and not redis.call('ZSCORE', inbox, id) then return 2 end
          redis.call('ZADD', inbox, score, id)
          if n == 0 then extend(inbox, tonumber(ttl_s) * 1000) else keep(inbox, ttl_s) end
          return 1
        end
        """;

    private const string ChatClock = """
        local function chat_clock(meta)
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
          local last = tonumber(redis.call('HGET', meta, 'ts') or '0')
          if now <= last then now = last + 1 end
          local s = string.format('%d', now)
          redis.call('HSET', meta, 'ts', s)
          return s
        end
        """;

    /// <summary>
    /// KEYS: meta, members. ARGV: name, creator, metadata TTL s, message TTL s, event key prefix, participants...
    /// Returns {'ok', version, createdAtUs, atUs, name, creator, participants...}; a chat that exists already is
    /// returned as it is (idempotent retry).
    /// </summary>
    public const string CreateChat = ChatClock + """

        local meta, members = KEYS[1], KEYS[2]
        if redis.call('EXISTS', meta) == 1 then
          local m = redis.call('HMGET', meta, 'v', 'ca', 'n', 'cb', 'ts')
          local r = {'ok', m[1], m[2], m[5], m[3], m[4]}
          for _, p in ipairs(redis.call('SMEMBERS', members)) do r[#r + 1] = p end
          return r
        end
        local now = chat_clock(meta)
        redis.call('HSET', meta, 'n', ARGV[1], 'cb', ARGV[2], 'ca', now, 'v', 1, 'seq', 0)
        local participants = {}
        for i = 6, #ARGV do participants[#participants + 1] = ARGV[i] end
        redis.call('SADD', members, unpack(participants))
        redis.call('EXPIRE', meta, ARGV[3])
        redis.call('EXPIRE', members, ARGV[3])
        local ev = ARGV[5] .. '1'
        redis.call('HSET', ev, 'k', 1, 'a', ARGV[2], 'x', '', 't', now, 'n', ARGV[1], 'cb', ARGV[2], 'ca', now, 'p', table.concat(participants, '\n'))
        redis.call('EXPIRE', ev, ARGV[4])
        local r = {'ok', '1', now, now, ARGV[1], ARGV[2]}
        for _, p in ipairs(participants) do r[#r + 1] = p end
        return r
        """;

    /// <summary>
    /// KEYS: meta, members. ARGV: actor, target, add (1|0), max participants, metadata TTL s, message TTL s, event key prefix.
    /// Returns {'nf'} | {'np'} | {'forbidden'} | {'full'} | {'same'} | {'ok', version, createdAtUs, atUs, name, creator, participants...}.
    /// </summary>
    public const string ModifyParticipants = ChatClock + """

        local meta, members = KEYS[1], KEYS[2]
        local actor, target, add = ARGV[1], ARGV[2], ARGV[3] == '1'
        -- Byte order (Lua's < follows the server's collation locale).
        local function before(a, b)
          for i = 1, math.min(#a, #b) do
            local x, y = string.byte(a, i), string.byte(b, i)
            if x ~= y then return x < y end
          end
          return #a < #b
        end
        -- Who may remove others: the creator while a participant, else the participant first in byte order.
        local function admin(creator)
          if redis.call('SISMEMBER', members, creator) == 1 then return creator end
          local first
          for _, p in ipairs(redis.call('SMEMBERS', members)) do
            if first == nil or before(p, first) then first = p end
          end
          return first
        end
        if redis.call('EXISTS', meta) == 0 then return {'nf'} end
        if redis.call('SISMEMBER', members, actor) == 0 then return {'np'} end
        local creator = redis.call('HGET', meta, 'cb')
        if add then
          if redis.call('SISMEMBER', members, target) == 1 then return {'same'} end
          if redis.call('SCARD', members) >= tonumber(ARGV[4]) then return {'full'} end
          redis.call('SADD', members, target)
        else
          if actor ~= target and actor ~= admin(creator) then return {'forbidden'} end
          if redis.call('SISMEMBER', members, target) == 0 then return {'same'} end
          redis.call('SREM', members, target)
        end
        local now = chat_clock(meta)
        local v = redis.call('HINCRBY', meta, 'v', 1)
        local m = redis.call('HMGET', meta, 'n', 'ca')
        local participants = redis.call('SMEMBERS', members)
        redis.call('EXPIRE', meta, ARGV[5])
        if #participants > 0 then redis.call('EXPIRE', members, ARGV[5]) end
        local ev = ARGV[7] .. v
        redis.call('HSET', ev, 'k', add and 2 or 3, 'a', actor, 'x', target, 't', now, 'n', m[1], 'cb', creator, 'ca', m[2], 'p', table.concat(participants, '\n'))
        redis.call('EXPIRE', ev, ARGV[6])
        local r = {'ok', string.format('%d', v), m[2], now, m[1], creator}
        for _, p in ipairs(participants) do r[#r + 1] = p end
        return r
        """;

    /// <summary>
    /// KEYS: meta, members, dedupe. ARGV: sender user, message id, sender client, body, message TTL s, metadata TTL s, message key prefix.
    /// Returns {'nf'} | {'np'} | {'dup', messageId, seq, atUs, fannedOut, participants...} | {'ok', messageId, seq, atUs, '0', participants...}.
    /// A duplicate is answered even if the sender has left the chat since: the original send was authorized.
    /// </summary>
    public const string AppendMessage = Keep + """

        local meta, members, dedupe = KEYS[1], KEYS[2], KEYS[3]
        local d = redis.call('HMGET', dedupe, 'i', 's', 't', 'x')
        if d[1] then
          local r = {'dup', d[1], d[2], d[3], d[4]}
          for _, p in ipairs(redis.call('SMEMBERS', members)) do r[#r + 1] = p end
          return r
        end
        if ARGV[8] == '1' then return {'new'} end
        -- Every chat's hash holds seq (0 at creation): none means no chat.
        local m = redis.call('HMGET', meta, 'seq', 'ts')
        if not m[1] then return {'nf'} end
        if redis.call('SISMEMBER', members, ARGV[1]) == 0 then return {'np'} end
        -- The next seq and the chat clock in one write of the chat's hash.
        local seq = string.format('%d', (tonumber(m[1]) or 0) + 1)
        local t = redis.call('TIME')
        local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local last = tonumber(m[2] or '0')
        if clock <= last then clock = last + 1 end
        local now = string.format('%d', clock)
        redis.call('HSET', meta, 'seq', seq, 'ts', now)
        local mk = ARGV[7] .. seq
        redis.call('HSET', mk, 'i', ARGV[2], 'u', ARGV[1], 'c', ARGV[3], 't', now, 'b', ARGV[4])
        redis.call('EXPIRE', mk, ARGV[5])
        redis.call('HSET', dedupe, 'i', ARGV[2], 's', seq, 't', now, 'x', '0')
        redis.call('EXPIRE', dedupe, ARGV[5])
        keep(meta, ARGV[6])
        keep(members, ARGV[6])
        local r = {'ok', ARGV[2], seq, now, '0'}
        for _, p in ipairs(redis.call('SMEMBERS', members)) do r[#r + 1] = p end
        return r
        """;

    /// <summary>KEYS: dedupe. Marks the fan-out complete, only on a record that still exists (so the key keeps its TTL).</summary>
    public const string MarkFannedOut = """
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'x', '1') end
        return 0
        """;

    /// <summary>
    /// KEYS: clients hash, the client's deactivation record. ARGV: client id, max clients, now ms, metadata TTL s, the
    /// token's issue time ms. Returns 'registered' | 'existing' | 'limit' | 'deactivated' (deactivated at or after the
    /// token was issued).
    /// </summary>
    public const string RegisterClient = """
        local clients = KEYS[1]
        local deactivated = redis.call('GET', KEYS[2])
        if deactivated and tonumber(ARGV[5]) <= tonumber(deactivated) then return 'deactivated' end
        if redis.call('HEXISTS', clients, ARGV[1]) == 1 then
          redis.call('EXPIRE', clients, ARGV[4])
          return 'existing'
        end
        if redis.call('HLEN', clients) >= tonumber(ARGV[2]) then return 'limit' end
        redis.call('HSET', clients, ARGV[1], ARGV[3])
        redis.call('EXPIRE', clients, ARGV[4])
        return 'registered'
        """;

    /// <summary>
    /// KEYS: clients hash, the client's inbox, its acknowledged ids, its deactivation record. ARGV: client id, now (ms),
    /// lockout (ms). Deletes first, so that a store at its memory limit still takes it. Returns 1 if the client was registered.
    /// </summary>
    public const string DeactivateClient = """
        redis.call('DEL', KEYS[2], KEYS[3])
        local removed = redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3])
        return removed
        """;

    /// <summary>
    /// KEYS: the client's inbox, its acknowledged ids. ARGV: delivery id, score, inbox TTL s, max entries. Adds the entry
    /// unless the client acknowledged it recently (a retried fan-out must not bring back what the client already has) or
    /// the inbox is full, and slides the inbox's TTL. Returns 1 if added or already present, 0 if refused as
    /// acknowledged, 2 if the inbox holds max entries already.
    /// </summary>
    public const string AddToInbox = AddOne + """

        return add_one(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
        """;

    // AddToInbox for every client registered in a user's clients hash but a skipped one. The inbox and acknowledged-ids
    // keys are the hash's key with its last part replaced (RedisKeys.InboxPrefix, RedisKeys.AckedPrefix), so the send
    // path does not build them per message. Appends to r: inboxes written, how many were full, their client ids.
    private const string AddUser = AddOne + """

        local function add_user(clients, skip, id, score, ttl_s, max, r)
          local user = string.sub(clients, 1, -3)
          local written, full = 0, {}
          for _, client in ipairs(redis.call('HKEYS', clients)) do
            if client ~= skip then
              local added = add_one(user .. 'i:' .. client, user .. 'a:' .. client, id, score, ttl_s, max)
              if added == 1 then written = written + 1 elseif added == 2 then full[#full + 1] = client end
            end
          end
          r[#r + 1] = written
          r[#r + 1] = #full
          for _, client in ipairs(full) do r[#r + 1] = client end
        end
        """;

    /// <summary>
    /// KEYS: the user's clients hash (<c>u:{user}:cl</c>). ARGV: delivery id, score, inbox TTL s, max entries, a client id
    /// to skip ('' for none). <see cref="AddToInbox"/> for every client registered in the hash but the skipped one: the
    /// inboxes share the user's slot, so one script reads the registrations and writes every inbox. Returns {inboxes
    /// written, how many were full, ids of the clients whose inbox holds max entries already...}.
    /// </summary>
    public const string AddToUserInboxes = AddUser + """

        local r = {}
        add_user(KEYS[1], ARGV[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4], r)
        return r
        """;

    /// <summary>
    /// <see cref="AddToUserInboxes"/> for several users whose slots one master serves, in one call: KEYS: the first
    /// user's clients hash (it routes the call). ARGV: delivery id, score, inbox TTL s, max entries, the client id to skip,
    /// the clients hash of the user it belongs to ('' for none), the other users' clients hashes... Keys of other slots
    /// are allowed (the flag) as long as this node serves them. Otherwise Redis fails the call: at once when it does not
    /// serve the first user's slot, or at the first user it does not serve, after writing the users before (every write
    /// here is idempotent, so writing them again is harmless).
    /// Returns, per user in order, {inboxes written, how many were full, their client ids...}.
    /// </summary>
    public const string AddToUsersInboxes = "#!lua flags=allow-cross-slot-keys\n" + AddUser + """

        local r = {}
        add_user(KEYS[1], KEYS[1] == ARGV[6] and ARGV[5] or '', ARGV[1], ARGV[2], ARGV[3], ARGV[4], r)
        for i = 7, #ARGV do
          add_user(ARGV[i], ARGV[i] == ARGV[6] and ARGV[5] or '', ARGV[1], ARGV[2], ARGV[3], ARGV[4], r)
        end
        return r
        """;

    /// <summary>
    /// KEYS: the client's inbox, its acknowledged ids. ARGV: now ms, tombstone window ms, most tombstones kept, delivery
    /// ids... Removes the entries and remembers them as acknowledged for the window (at most the newest N). Returns how
    /// many entries were present.
    /// </summary>
    public const string AcknowledgeInbox = Keep + """

        local removed = 0
        for i = 4, #ARGV do
          removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
          redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
        end
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[1]) - tonumber(ARGV[2])))
        redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
        pkeep(KEYS[2], ARGV[2])
        return removed
        """;
}
