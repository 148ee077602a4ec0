using ChatNode.Storage;
using ChatNode.UnitTests.Infrastructure;

namespace ChatNode.UnitTests.Storage;

/// <summary>The stores of one backend, as a node uses them.</summary>
public sealed record StoreSet(IChatStore Chats, IMessageStore Messages, IInboxStore Inbox, IClientStore Clients, IAttachmentStore Attachments);

/// <summary>
/// What every storage backend must do, run against each (Redis Cluster, in-memory): atomic membership checks, strictly
/// increasing sequence numbers and chat clock, idempotent appends, inbox order and paging, client limits, attachment
/// claims, and TTLs. Tests use fresh ids, so backends shared with other tests never see each other's data.
/// </summary>
public abstract class StoreContractTests
{
    /// <summary>The backend with its default lifetimes (30 days, 400 days).</summary>
    protected abstract StoreSet Stores { get; }

    /// <summary>A backend whose messages, events and inbox entries live <paramref name="messageTtl"/> (and acknowledged ids are remembered <paramref name="ackTombstoneTtl"/>, default 2 min).</summary>
    protected abstract StoreSet WithMessageTtl(TimeSpan messageTtl, TimeSpan? ackTombstoneTtl = null);

    /// <summary>Lets time pass for the stores of <see cref="WithMessageTtl"/> (a fake clock advances; real time is polled for).</summary>
    protected abstract void Elapse(TimeSpan time);

    private static CancellationToken None => CancellationToken.None;

    private static string Id(string prefix) => TestEnvironment.NewId(prefix);

    private static string ChatId() => Guid.NewGuid().ToString("N")[..22];

    private static MessageDraft Draft(string chatId, string user, string client, string clientMessageId, string text = "hi") =>
        new(chatId, Guid.NewGuid().ToString("N"), user, client, clientMessageId, System.Text.Encoding.UTF8.GetBytes(text));

    private const int Unbounded = int.MaxValue;
    private static readonly TimeSpan Lockout = TimeSpan.FromMinutes(10);
    private static readonly DateTimeOffset Issued = DateTimeOffset.UtcNow;

    [Test]
    public async Task A_chat_is_created_once_and_a_retry_with_its_id_returns_it_unchanged()
    {
        var (chatId, alice, bob) = (ChatId(), Id("alice"), Id("bob"));
        var created = await Stores.Chats.CreateChatAsync(chatId, "lunch", alice, [alice, bob], None);
        Assert.That(created.Kind, Is.EqualTo(ChatEventKind.Created));
        Assert.That(created.Chat.Version, Is.EqualTo(1));
        Assert.That(created.Chat.Participants, Is.EqualTo(new[] { alice, bob }.Order(StringComparer.Ordinal)), "participants are listed in ordinal order");
        Assert.That((created.Chat.Name, created.Chat.CreatedBy), Is.EqualTo(("lunch", alice)));

        var retry = await Stores.Chats.CreateChatAsync(chatId, "other name", bob, [bob, Id("carol")], None);
        Assert.That(retry.Chat, Is.EqualTo(created.Chat).Using<ChatRecord>(SameChat), "the retry changes nothing");
        Assert.That(await Stores.Chats.GetChatAsync(chatId, None), Is.EqualTo(created.Chat).Using<ChatRecord>(SameChat));
        Assert.That(await Stores.Chats.GetChatAsync(ChatId(), None), Is.Null);
    }

    [Test]
    public async Task A_user_removed_and_added_back_at_the_same_time_is_listed_exactly_when_a_participant()
    {
        var (alice, bob) = (Id("alice"), Id("bob"));

        // 200 chats at once, in each the creator removing a user while another member adds it back: the two writes of
        // each change (members, then the user's index) interleave every which way.
        var trials = await Task.WhenAll(Enumerable.Range(0, 200).Select(async trial =>
        {
            var (chatId, target) = (ChatId(), Id("target"));
            await Stores.Chats.CreateChatAsync(chatId, "", alice, [alice, bob, target], None);
            var removal = Task.Run(() => Stores.Chats.ModifyParticipantsAsync(chatId, alice, target, add: false, 10, None));
            var addition = Task.Run(() => Stores.Chats.ModifyParticipantsAsync(chatId, bob, target, add: true, 10, None));
            await Task.WhenAll(removal, addition);
            var participant = (await Stores.Chats.GetChatAsync(chatId, None))!.Participants.Contains(target);
            var listed = (await Stores.Chats.ListChatsAsync(target, None)).Any(c => c.ChatId == chatId);
            return (trial, participant, listed);
        }));

        Assert.That(trials.Where(t => t.participant != t.listed).Select(t => $"trial {t.trial}: participant {t.participant}, listed {t.listed}"), Is.Empty);
    }

    [Test]
    public async Task Membership_changes_are_checked_versioned_and_stored_as_events()
    {
        var (chatId, alice, bob, carol, dave) = (ChatId(), Id("alice"), Id("bob"), Id("carol"), Id("dave"));
        await Stores.Chats.CreateChatAsync(chatId, "", alice, [alice, bob], None);

        var (status, added) = await Stores.Chats.ModifyParticipantsAsync(chatId, bob, carol, add: true, maxParticipants: 3, None);
        Assert.That(status, Is.EqualTo(ChatWriteStatus.Ok), "any participant may add");
        Assert.That(added!.Chat.Version, Is.EqualTo(2));
        Assert.That((added.Kind, added.ActorUserId, added.TargetUserId), Is.EqualTo((ChatEventKind.ParticipantAdded, bob, carol)));
        Assert.That(added.Chat.Participants, Does.Contain(carol));

        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, alice, carol, true, 3, None)).Status, Is.EqualTo(ChatWriteStatus.NoChange));
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, alice, dave, true, 3, None)).Status, Is.EqualTo(ChatWriteStatus.ChatFull));
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, dave, dave, true, 10, None)).Status, Is.EqualTo(ChatWriteStatus.NotParticipant));
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, bob, carol, false, 10, None)).Status, Is.EqualTo(ChatWriteStatus.Forbidden), "only the creator removes others");
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(ChatId(), alice, bob, true, 10, None)).Status, Is.EqualTo(ChatWriteStatus.ChatNotFound));

        var (left, leftEvent) = await Stores.Chats.ModifyParticipantsAsync(chatId, carol, carol, false, 10, None);
        Assert.That(left, Is.EqualTo(ChatWriteStatus.Ok), "anyone may leave");
        var (removed, removedEvent) = await Stores.Chats.ModifyParticipantsAsync(chatId, alice, bob, false, 10, None);
        Assert.That(removed, Is.EqualTo(ChatWriteStatus.Ok), "the creator removes others");
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, alice, bob, false, 10, None)).Status, Is.EqualTo(ChatWriteStatus.NoChange));
        Assert.That(removedEvent!.Chat.Version, Is.EqualTo(4));
        Assert.That(removedEvent.Chat.Participants, Is.EqualTo(new[] { alice }));

        var events = await Stores.Chats.GetEventsAsync([(chatId, 1), (chatId, 2), (chatId, 3), (chatId, 4), (chatId, 5)], None);
        Assert.That(events.Select(e => e?.Kind), Is.EqualTo(new ChatEventKind?[] { ChatEventKind.Created, ChatEventKind.ParticipantAdded, ChatEventKind.ParticipantRemoved, ChatEventKind.ParticipantRemoved, null }));
        Assert.That(events[2]!.Chat.Participants, Is.EquivalentTo(leftEvent!.Chat.Participants), "an event holds the participants right after it");
        Assert.That(events.Where(e => e is not null).Select(e => e!.AtUs), Is.Ordered.Ascending.And.Unique, "events share the chat clock, strictly increasing");
    }

    [Test]
    public async Task Once_the_creator_left_the_participant_first_in_ordinal_order_removes_others()
    {
        var prefix = Id("u");
        var (creator, first, second, third) = (prefix + "-d", prefix + "-a", prefix + "-b", prefix + "-c");
        var chatId = ChatId();
        await Stores.Chats.CreateChatAsync(chatId, "", creator, [creator, first, second, third], None);
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, first, third, false, 10, None)).Status, Is.EqualTo(ChatWriteStatus.Forbidden), "not while the creator is in");

        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, creator, creator, false, 10, None)).Status, Is.EqualTo(ChatWriteStatus.Ok), "the creator leaves");
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, second, third, false, 10, None)).Status, Is.EqualTo(ChatWriteStatus.Forbidden), "not anyone");
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, first, third, false, 10, None)).Status, Is.EqualTo(ChatWriteStatus.Ok), "the first in ordinal order");

        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, first, creator, true, 10, None)).Status, Is.EqualTo(ChatWriteStatus.Ok), "the creator is added back");
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, first, second, false, 10, None)).Status, Is.EqualTo(ChatWriteStatus.Forbidden), "and is the admin again");
        Assert.That((await Stores.Chats.ModifyParticipantsAsync(chatId, creator, first, false, 10, None)).Status, Is.EqualTo(ChatWriteStatus.Ok));
    }

    [Test]
    public async Task A_user_lists_the_chats_they_are_in_oldest_first()
    {
        var (alice, bob) = (Id("alice"), Id("bob"));
        var (first, second, third) = (ChatId(), ChatId(), ChatId());
        await Stores.Chats.CreateChatAsync(first, "1", alice, [alice, bob], None);
        await Stores.Chats.CreateChatAsync(second, "2", bob, [bob, alice], None);
        await Stores.Chats.CreateChatAsync(third, "3", alice, [alice, bob], None);
        await Stores.Chats.ModifyParticipantsAsync(second, bob, alice, add: false, 10, None);

        var chats = await Stores.Chats.ListChatsAsync(alice, None);
        Assert.That(chats.Select(c => c.ChatId), Is.EqualTo(new[] { first, third }));
        Assert.That((await Stores.Chats.ListChatsAsync(bob, None)).Select(c => c.ChatId), Is.EqualTo(new[] { first, second, third }));
        Assert.That(await Stores.Chats.ListChatsAsync(Id("nobody"), None), Is.Empty);
    }

    [Test]
    public async Task Appends_take_the_next_seq_and_a_later_chat_clock_and_only_participants_append()
    {
        var (chatId, alice, bob) = (ChatId(), Id("alice"), Id("bob"));
        var created = await Stores.Chats.CreateChatAsync(chatId, "", alice, [alice, bob], None);
        var appended = new List<AppendResult>();
        for (var i = 0; i < 5; i++)
        {
            appended.Add(await Stores.Messages.AppendAsync(Draft(chatId, i % 2 == 0 ? alice : bob, "phone", $"m{i}", $"text {i}"), None));
        }

        Assert.That(appended.Select(a => a.Status), Is.All.EqualTo(ChatWriteStatus.Ok));
        Assert.That(appended.Select(a => a.Message!.Seq), Is.EqualTo(new long[] { 1, 2, 3, 4, 5 }));
        Assert.That(appended.Select(a => a.Message!.SentAtUs).Prepend(created.AtUs), Is.Ordered.Ascending.And.Unique, "the chat clock orders messages after the chat's events");
        Assert.That(appended[0].Participants, Is.EquivalentTo(new[] { alice, bob }));
        Assert.That(appended.Select(a => a.Duplicate), Is.All.False);

        Assert.That((await Stores.Messages.AppendAsync(Draft(chatId, Id("eve"), "phone", "x"), None)).Status, Is.EqualTo(ChatWriteStatus.NotParticipant));
        Assert.That((await Stores.Messages.AppendAsync(Draft(ChatId(), alice, "phone", "x"), None)).Status, Is.EqualTo(ChatWriteStatus.ChatNotFound));

        var stored = await Stores.Messages.GetMessagesAsync([(chatId, 3), (chatId, 99), (chatId, 1)], None);
        Assert.That(stored[0]!.MessageId, Is.EqualTo(appended[2].Message!.MessageId));
        Assert.That(stored[0]!.Body.ToArray(), Is.EqualTo(System.Text.Encoding.UTF8.GetBytes("text 2")));
        Assert.That((stored[0]!.SenderUserId, stored[0]!.SenderClientId), Is.EqualTo((alice, "phone")));
        Assert.That(stored[1], Is.Null);
        Assert.That(stored[2]!.Seq, Is.EqualTo(1), "results come in the order asked");

        // Several chats interleaved, as an inbox page holds them: each result at its own place.
        var other = ChatId();
        await Stores.Chats.CreateChatAsync(other, "", bob, [alice, bob], None);
        await Stores.Messages.AppendAsync(Draft(other, bob, "phone", "o1", "other 1"), None);
        var mixed = await Stores.Messages.GetMessagesAsync([(chatId, 5), (other, 1), (ChatId(), 1), (chatId, 2), (other, 2)], None);
        Assert.That(mixed.Select(m => m is null ? null : $"{m.ChatId == other}:{m.Seq}:{System.Text.Encoding.UTF8.GetString(m.Body.Span)}"),
            Is.EqualTo(new[] { "False:5:text 4", "True:1:other 1", null, "False:2:text 1", null }));
    }

    [Test]
    public async Task An_append_retried_with_its_client_message_id_returns_the_original_and_stores_nothing()
    {
        var (chatId, alice, bob) = (ChatId(), Id("alice"), Id("bob"));
        await Stores.Chats.CreateChatAsync(chatId, "", alice, [alice, bob], None);
        var first = await Stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "same"), None);
        var retry = Draft(chatId, alice, "phone", "same", "different text");
        var again = await Stores.Messages.AppendAsync(retry, None);
        Assert.That((again.Duplicate, again.FannedOut), Is.EqualTo((true, false)));
        Assert.That((again.Message!.MessageId, again.Message.Seq, again.Message.SentAtUs), Is.EqualTo((first.Message!.MessageId, first.Message.Seq, first.Message.SentAtUs)));

        await Stores.Messages.MarkFannedOutAsync(retry, None);
        await Poll.UntilAsync(async () => (await Stores.Messages.AppendAsync(retry, None)).FannedOut, "the fan-out mark to apply (it may lag its call)");

        var otherClient = await Stores.Messages.AppendAsync(Draft(chatId, alice, "laptop", "same"), None);
        Assert.That((otherClient.Duplicate, otherClient.Message!.Seq), Is.EqualTo((false, 2L)), "the id is per sending client");

        await Stores.Chats.ModifyParticipantsAsync(chatId, alice, alice, add: false, 10, None);
        var afterLeaving = await Stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "same"), None);
        Assert.That((afterLeaving.Status, afterLeaving.Duplicate), Is.EqualTo((ChatWriteStatus.Ok, true)), "a retry is answered after the sender left: the original was authorized");
        Assert.That((await Stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "new"), None)).Status, Is.EqualTo(ChatWriteStatus.NotParticipant));
    }

    [Test]
    public async Task An_inbox_reads_oldest_first_in_pages_and_removes_what_is_acknowledged()
    {
        var (phone, laptop) = (new ClientAddress(Id("bob"), "phone"), new ClientAddress(Id("bob"), "laptop"));
        var baseUs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        var entries = Enumerable.Range(1, 6).Select(i => new InboxEntry($"m.c.{i}", baseUs + (i / 2 * 10))).ToArray();
        foreach (var entry in entries.Reverse())
        {
            await Stores.Inbox.AddAsync([phone, laptop], entry, Unbounded, None);
        }

        await Stores.Inbox.AddAsync([phone], entries[0], Unbounded, None);
        var all = await Stores.Inbox.ReadAsync(phone, 0, 100, None);
        Assert.That(all, Is.EqualTo(entries.OrderBy(e => e.Score).ThenBy(e => e.DeliveryId, StringComparer.Ordinal)), "by score, then id; adding an entry twice keeps one");

        var page = await Stores.Inbox.ReadAsync(phone, baseUs + 10, 2, None);
        Assert.That(page, Is.EqualTo(all.Where(e => e.Score >= baseUs + 10).Take(2)), "from a score, at most the limit");

        Assert.That(await Stores.Inbox.RemoveAsync(phone, ["m.c.1", "m.c.2", "m.c.nope"], None), Is.EqualTo(2), "removal counts what was present");
        Assert.That((await Stores.Inbox.ReadAsync(phone, 0, 100, None)).Select(e => e.DeliveryId), Is.EquivalentTo(new[] { "m.c.3", "m.c.4", "m.c.5", "m.c.6" }));
        Assert.That(await Stores.Inbox.ReadAsync(laptop, 0, 100, None), Has.Count.EqualTo(6), "each client has its own inbox");
        Assert.That(await Stores.Inbox.ReadAsync(new ClientAddress(Id("nobody"), "x"), 0, 10, None), Is.Empty);
    }

    [Test]
    public async Task An_acknowledged_entry_is_not_brought_back_by_a_repeated_add_until_its_tombstone_expires()
    {
        var stores = WithMessageTtl(TimeSpan.FromDays(1), ackTombstoneTtl: TimeSpan.FromSeconds(2));
        var client = new ClientAddress(Id("erin"), "phone");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        var (first, second) = (new InboxEntry("m.c.1", now), new InboxEntry("m.c.2", now + 1));
        await stores.Inbox.AddAsync([client], first, Unbounded, None);
        await stores.Inbox.AddAsync([client], second, Unbounded, None);
        Assert.That(await stores.Inbox.RemoveAsync(client, ["m.c.1"], None), Is.EqualTo(1));

        // A fan-out retried after the client acknowledged (a lost replica acknowledgement, a resend of a send whose
        // outcome was unknown) adds the same entry again: it must not come back.
        await stores.Inbox.AddAsync([client], first, Unbounded, None);
        await stores.Inbox.AddAsync([client], second, Unbounded, None);
        Assert.That((await stores.Inbox.ReadAsync(client, 0, 10, None)).Select(e => e.DeliveryId), Is.EqualTo(new[] { "m.c.2" }));

        Elapse(TimeSpan.FromSeconds(3));
        await Poll.UntilAsync(async () =>
        {
            await stores.Inbox.AddAsync([client], first, Unbounded, None);
            return (await stores.Inbox.ReadAsync(client, 0, 10, None)).Count == 2;
        }, "the tombstone to expire, after which the entry may be added again", TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task Clients_register_up_to_the_limit_and_deactivation_deletes_the_inbox()
    {
        var user = Id("carol");
        var phone = new ClientAddress(user, "phone");
        Assert.That(await Stores.Clients.RegisterAsync(phone, 2, Issued, None), Is.EqualTo(ClientRegistration.Registered));
        Assert.That(await Stores.Clients.RegisterAsync(phone, 2, Issued, None), Is.EqualTo(ClientRegistration.Existing));
        Assert.That(await Stores.Clients.RegisterAsync(new ClientAddress(user, "laptop"), 2, Issued, None), Is.EqualTo(ClientRegistration.Registered));
        Assert.That(await Stores.Clients.RegisterAsync(new ClientAddress(user, "tablet"), 2, Issued, None), Is.EqualTo(ClientRegistration.LimitReached));
        Assert.That(await Stores.Clients.RegisterAsync(phone, 2, Issued, None), Is.EqualTo(ClientRegistration.Existing), "a registered client still connects at the limit");

        var listed = await Stores.Clients.ListAsync(user, None);
        Assert.That(listed.Select(c => c.ClientId), Is.EqualTo(new[] { "phone", "laptop" }), "oldest registration first");
        await Stores.Inbox.AddAsync([phone], new InboxEntry("m.c.1", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000), Unbounded, None);
        Assert.That(await Stores.Clients.DeactivateAsync(phone, Lockout, None), Is.True);
        Assert.That(await Stores.Clients.DeactivateAsync(phone, Lockout, None), Is.False, "once");
        Assert.That(await Stores.Inbox.ReadAsync(phone, 0, 10, None), Is.Empty, "its inbox is gone");
        Assert.That(await Stores.Clients.RegisterAsync(new ClientAddress(user, "tablet"), 2, Issued, None), Is.EqualTo(ClientRegistration.Registered), "its slot is free");
    }

    [Test]
    public async Task A_deactivated_client_is_refused_with_a_token_from_before_and_taken_with_a_newer_one()
    {
        var phone = new ClientAddress(Id("fay"), "phone");
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        Assert.That(await Stores.Clients.RegisterAsync(phone, 3, before, None), Is.EqualTo(ClientRegistration.Registered));
        Assert.That(await Stores.Clients.DeactivateAsync(phone, Lockout, None), Is.True);
        Assert.That(await Stores.Clients.RegisterAsync(phone, 3, before, None), Is.EqualTo(ClientRegistration.Deactivated), "its old token cannot bring it back");
        Assert.That(await Stores.Clients.ListAsync(phone.UserId, None), Is.Empty, "nothing was written");
        Assert.That(await Stores.Clients.RegisterAsync(phone, 3, DateTimeOffset.UtcNow.AddSeconds(5), None), Is.EqualTo(ClientRegistration.Registered), "a token issued after the deactivation signs it in again");
        Assert.That(await Stores.Clients.RegisterAsync(new ClientAddress(phone.UserId, "laptop"), 3, before, None), Is.EqualTo(ClientRegistration.Registered), "only that client is locked out");
    }

    [Test]
    public async Task A_fan_out_to_users_reaches_every_registered_client_but_the_one_excepted()
    {
        var (alice, bob, nobody) = (Id("alice"), Id("bob"), Id("nobody"));
        var (alicePhone, aliceLaptop, bobPhone, bobWeb) = (new ClientAddress(alice, "phone"), new ClientAddress(alice, "laptop"), new ClientAddress(bob, "phone"), new ClientAddress(bob, "web"));
        foreach (var client in new[] { alicePhone, aliceLaptop, bobPhone, bobWeb })
        {
            await Stores.Clients.RegisterAsync(client, 3, Issued, None);
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        async Task<string[]> Inbox(ClientAddress client) => [.. (await Stores.Inbox.ReadAsync(client, 0, 10, None)).Select(e => e.DeliveryId)];

        Assert.That(await Stores.Inbox.AddToUsersAsync([alice, bob, nobody], alicePhone, new InboxEntry("m.c.1", now), 2, None), Is.Empty);
        Assert.That(await Inbox(alicePhone), Is.Empty, "the excepted client (the sender's) gets nothing");
        Assert.That(await Inbox(aliceLaptop), Is.EqualTo(new[] { "m.c.1" }), "the sender's other clients do");
        Assert.That(await Inbox(bobPhone), Is.EqualTo(new[] { "m.c.1" }));
        Assert.That(await Inbox(bobWeb), Is.EqualTo(new[] { "m.c.1" }));
        Assert.That(await Inbox(new ClientAddress(nobody, "phone")), Is.Empty, "a user without clients gets nothing");

        // An acknowledged entry does not come back, a deactivated client is no longer written, a full inbox is named.
        await Stores.Inbox.RemoveAsync(bobWeb, ["m.c.1"], None);
        await Stores.Clients.DeactivateAsync(bobPhone, Lockout, None);
        Assert.That(await Stores.Inbox.AddToUsersAsync([bob], alicePhone, new InboxEntry("m.c.1", now), 2, None), Is.Empty);
        Assert.That(await Inbox(bobWeb), Is.Empty, "acknowledged");
        Assert.That(await Inbox(bobPhone), Is.Empty, "deactivated");
        await Stores.Inbox.AddToUsersAsync([alice], alicePhone, new InboxEntry("m.c.2", now + 1), 2, None);
        Assert.That(await Stores.Inbox.AddToUsersAsync([alice, bob], bobWeb, new InboxEntry("m.c.3", now + 2), 2, None), Is.EqualTo(new[] { aliceLaptop }), "the full one is named");
        Assert.That(await Inbox(alicePhone), Is.EqualTo(new[] { "m.c.3" }), "the exception applies to its own client only");
        Assert.That(await Inbox(aliceLaptop), Is.EqualTo(new[] { "m.c.1", "m.c.2" }), "the full inbox is left as it was");
    }

    [Test]
    public async Task A_fan_out_to_a_group_writes_each_members_inboxes_but_the_senders_own_and_names_the_full_ones()
    {
        // Enough users that several share a store shard (Redis: one script call per master for all of them).
        var users = Enumerable.Range(0, 24).Select(i => Id($"member{i}")).ToArray();
        foreach (var user in users)
        {
            await Stores.Clients.RegisterAsync(new ClientAddress(user, "phone"), 3, Issued, None);
            await Stores.Clients.RegisterAsync(new ClientAddress(user, "laptop"), 3, Issued, None);
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        var fullOnes = new[] { new ClientAddress(users[5], "laptop"), new ClientAddress(users[17], "laptop") };
        await Stores.Inbox.AddAsync(fullOnes, new InboxEntry("m.c.1", now), 2, None);
        await Stores.Inbox.AddAsync(fullOnes, new InboxEntry("m.c.2", now + 1), 2, None);
        await Stores.Inbox.RemoveAsync(new ClientAddress(users[9], "phone"), ["m.c.3"], None);

        var sender = new ClientAddress(users[0], "phone");
        var full = await Stores.Inbox.AddToUsersAsync(users, sender, new InboxEntry("m.c.3", now + 2), 2, None);
        Assert.That(full, Is.EquivalentTo(fullOnes), "the full inboxes are named");
        foreach (var user in users)
        {
            foreach (var client in new[] { new ClientAddress(user, "phone"), new ClientAddress(user, "laptop") })
            {
                var ids = (await Stores.Inbox.ReadAsync(client, 0, 10, None)).Select(e => e.DeliveryId).ToArray();
                var expected = client == sender || client == new ClientAddress(users[9], "phone") ? [] : fullOnes.Contains(client) ? new[] { "m.c.1", "m.c.2" } : new[] { "m.c.3" };
                Assert.That(ids, Is.EqualTo(expected), $"{client}: the sender's own client and an acknowledged entry get nothing, a full inbox stays as it was");
            }
        }
    }

    [Test]
    public async Task A_full_inbox_takes_no_new_entry_and_names_its_client_but_takes_a_repeated_one()
    {
        var (full, roomy) = (new ClientAddress(Id("gus"), "phone"), new ClientAddress(Id("gus"), "laptop"));
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
        Assert.That(await Stores.Inbox.AddAsync([full, roomy], new InboxEntry("m.c.1", now), 2, None), Is.Empty);
        Assert.That(await Stores.Inbox.AddAsync([full], new InboxEntry("m.c.2", now + 1), 2, None), Is.Empty);
        Assert.That(await Stores.Inbox.AddAsync([full, roomy], new InboxEntry("m.c.3", now + 2), 2, None), Is.EqualTo(new[] { full }), "the full one is named");
        Assert.That((await Stores.Inbox.ReadAsync(full, 0, 10, None)).Select(e => e.DeliveryId), Is.EqualTo(new[] { "m.c.1", "m.c.2" }), "and left as it was");
        Assert.That((await Stores.Inbox.ReadAsync(roomy, 0, 10, None)).Select(e => e.DeliveryId), Is.EqualTo(new[] { "m.c.1", "m.c.3" }));
        Assert.That(await Stores.Inbox.AddAsync([full], new InboxEntry("m.c.2", now + 1), 2, None), Is.Empty, "an entry it holds already is no new one");
    }

    [Test]
    public async Task Chats_are_counted_per_user()
    {
        var (alice, bob, carl) = (Id("alice"), Id("bob"), Id("carl"));
        await Stores.Chats.CreateChatAsync(ChatId(), "", alice, [alice, bob], None);
        await Stores.Chats.CreateChatAsync(ChatId(), "", alice, [alice, carl], None);
        var counts = await Stores.Chats.CountChatsAsync([alice, bob, carl, Id("nobody")], None);
        Assert.That(counts.Values, Is.EqualTo(new long[] { 2, 1, 1, 0 }));
    }

    [Test]
    public async Task An_append_only_if_stored_answers_an_earlier_attempt_and_writes_nothing_new()
    {
        var (chatId, alice, bob) = (ChatId(), Id("alice"), Id("bob"));
        await Stores.Chats.CreateChatAsync(chatId, "", alice, [alice, bob], None);
        var stored = await Stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "kept"), None);
        var again = await Stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "kept") with { OnlyIfStored = true }, None);
        Assert.That((again.Status, again.Duplicate, again.Message?.MessageId), Is.EqualTo((ChatWriteStatus.Ok, true, stored.Message!.MessageId)));
        var fresh = await Stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "new") with { OnlyIfStored = true }, None);
        Assert.That(fresh.Status, Is.EqualTo(ChatWriteStatus.NotStored));
        var next = await Stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "next"), None);
        Assert.That(next.Message!.Seq, Is.EqualTo(stored.Message.Seq + 1), "the refused one used no seq");
    }

    [Test]
    public async Task Each_due_upload_check_is_claimed_once_with_its_record_and_a_rescheduled_one_again()
    {
        var now = DateTimeOffset.UtcNow;
        var (due, later, gone) = (Guid.NewGuid().ToString("N")[..22], Guid.NewGuid().ToString("N")[..22], Guid.NewGuid().ToString("N")[..22]);
        var record = new AttachmentRecord(due, Id("alice"), "u." + due, "image/png", 123, new string('a', 64), now.ToUnixTimeMilliseconds());
        await Stores.Attachments.CreateAsync(record, now.AddSeconds(-5), now.AddDays(30), None);
        await Stores.Attachments.CreateAsync(record with { AttachmentId = later, ObjectKey = "u." + later }, now.AddMinutes(10), now.AddDays(30), None);
        // Checked and expired at once: its expiry claims the record, so its check finds nothing left to check.
        await Stores.Attachments.CreateAsync(record with { AttachmentId = gone, ObjectKey = "u." + gone }, now.AddSeconds(-5), now.AddSeconds(-5), None);
        Assert.That((await Stores.Attachments.ClaimExpiredAsync(now, 1000, None)).Select(c => c.AttachmentId), Does.Contain(gone));

        // The index is shared by every test of this backend: look for this test's attachments only.
        var claims = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Stores.Attachments.ClaimUploadChecksAsync(now, 1000, None)));
        var mine = claims.SelectMany(c => c).Where(c => c.AttachmentId is var id && (id == due || id == later || id == gone)).ToArray();
        Assert.That(mine, Is.EqualTo(new[] { record }), "the due check is claimed exactly once, with its record; the later one not yet; the expired one not at all");
        Assert.That((await Stores.Attachments.ClaimUploadChecksAsync(now, 1000, None)).Where(c => c.AttachmentId == due), Is.Empty, "a claimed check leaves the index");
        Assert.That((await Stores.Attachments.GetAsync([due], None))[0], Is.EqualTo(record), "a check keeps the record: the attachment may still be sent");

        await Stores.Attachments.RescheduleUploadCheckAsync(due, now.AddSeconds(-1), None);
        var again = await Stores.Attachments.ClaimUploadChecksAsync(now, 1000, None);
        Assert.That(again.Where(c => c.AttachmentId == due), Has.Exactly(1).Items, "a rescheduled check is claimed again");
        Assert.That((await Stores.Attachments.ClaimUploadChecksAsync(now.AddMinutes(11), 1000, None)).Select(c => c.AttachmentId), Does.Contain(later), "the later check falls due in its time");
    }

    [Test]
    public async Task Attachments_link_to_chats_and_each_expired_one_is_claimed_once()
    {
        var now = DateTimeOffset.UtcNow;
        var (due, later) = (Guid.NewGuid().ToString("N")[..22], Guid.NewGuid().ToString("N")[..22]);
        var record = new AttachmentRecord(due, Id("alice"), "u/alice/" + due, "image/png", 123, new string('a', 64), now.ToUnixTimeMilliseconds());
        // Due ten seconds ago: claimable, and its record still readable (records outlive their due time by a minute).
        await Stores.Attachments.CreateAsync(record, now.AddDays(1), now.AddSeconds(-10), None);
        await Stores.Attachments.CreateAsync(record with { AttachmentId = later, ObjectKey = "u/alice/" + later }, now.AddDays(1), now.AddDays(30), None);
        Assert.That((await Stores.Attachments.GetAsync([later, "missing", due], None)).Select(r => r?.AttachmentId), Is.EqualTo(new[] { later, null, due }));

        var (chatA, chatB) = (ChatId(), ChatId());
        await Stores.Attachments.AddChatAsync([later], chatA, None);
        await Stores.Attachments.AddChatAsync([later], chatB, None);
        await Stores.Attachments.AddChatAsync([later], chatA, None);
        Assert.That(await Stores.Attachments.ChatsOfAsync(later, None), Is.EquivalentTo(new[] { chatA, chatB }));

        // The expiry index is shared by every test of this backend: look for this test's attachments only.
        var claims = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Stores.Attachments.ClaimExpiredAsync(now, 1000, None)));
        var mine = claims.SelectMany(c => c).Where(c => c.AttachmentId is var id && (id == due || id == later)).ToArray();
        Assert.That(mine, Is.EqualTo(new[] { (due, "u/alice/" + due) }), "the due attachment is claimed exactly once, the other not at all");
        Assert.That((await Stores.Attachments.GetAsync([due], None))[0], Is.Null, "a claim deletes the metadata");

        await Stores.Attachments.RescheduleAsync(due, "u/alice/" + due, now.AddSeconds(-10), None);
        var again = await Stores.Attachments.ClaimExpiredAsync(now, 1000, None);
        Assert.That(again.Where(c => c.AttachmentId == due), Has.Exactly(1).Items, "a rescheduled attachment is claimed again");
    }

    [Test]
    public async Task Messages_events_and_inbox_entries_expire_with_the_message_ttl()
    {
        var stores = WithMessageTtl(TimeSpan.FromSeconds(2));
        var (chatId, alice, bob) = (ChatId(), Id("alice"), Id("bob"));
        await stores.Chats.CreateChatAsync(chatId, "", alice, [alice, bob], None);
        var message = (await stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "expiring"), None)).Message!;
        var inbox = new ClientAddress(bob, "phone");
        await stores.Inbox.AddAsync([inbox], new InboxEntry(message.DeliveryId, message.SentAtUs), Unbounded, None);
        Assert.That(await stores.Inbox.ReadAsync(inbox, 0, 10, None), Has.Count.EqualTo(1));

        Elapse(TimeSpan.FromSeconds(3));
        await Poll.UntilAsync(async () => (await stores.Messages.GetMessagesAsync([(chatId, message.Seq)], None))[0] is null, "the message to expire", TimeSpan.FromSeconds(10));
        await Poll.UntilAsync(async () => (await stores.Chats.GetEventsAsync([(chatId, 1)], None))[0] is null, "the chat event to expire", TimeSpan.FromSeconds(10));
        await Poll.UntilAsync(async () => (await stores.Inbox.ReadAsync(inbox, 0, 10, None)).Count == 0, "the inbox entry to expire", TimeSpan.FromSeconds(10));
        Assert.That(await stores.Chats.GetChatAsync(chatId, None), Is.Not.Null, "the chat itself lives with the metadata TTL");
        var retry = await stores.Messages.AppendAsync(Draft(chatId, alice, "phone", "expiring"), None);
        Assert.That((retry.Duplicate, retry.Message!.Seq), Is.EqualTo((false, 2L)), "the dedupe record expired with the message");
    }

    private static bool SameChat(ChatRecord a, ChatRecord b) =>
        a.ChatId == b.ChatId && a.Name == b.Name && a.CreatedBy == b.CreatedBy && a.Version == b.Version && a.CreatedAtUs == b.CreatedAtUs
        && a.Participants.SequenceEqual(b.Participants);
}
