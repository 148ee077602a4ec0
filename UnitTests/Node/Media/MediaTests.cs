using System.Net;
using ChatNode.Media;
using ChatNode.Protocol.V1;
using ChatNode.Storage;
using ChatNode.Storage.Blobs;
using ChatNode.UnitTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ChatNode.UnitTests.Node.Media;

/// <summary>Attachments against the real s3rver and Redis Cluster.</summary>
[TestFixture]
public sealed class MediaTests : NodeFixture
{
    private static readonly byte[] Picture = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 31)).ToArray();

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Media:Store:Endpoint"] = TestEnvironment.S3Endpoint,
        ["Media:Store:Bucket"] = "chatnode-test-media",
        ["Media:MaxBytes"] = "100000",
    };

    [Test]
    public async Task An_uploaded_attachment_reaches_the_recipient_byte_identical_and_the_senders_other_clients_too()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var phone = await Node.ConnectAsync(alice, "phone");
        await using var laptop = await Node.ConnectAsync(alice, "laptop");
        await using var b = await Node.ConnectAsync(bob, "phone");
        var chat = await phone.CreateChatAsync([bob]);

        var attachment = await phone.UploadAttachmentAsync(Picture, "image/png");
        await phone.SendMessageAsync(chat.ChatId, "look", [attachment]);

        var atBob = (await ChatAssert.ReceiveAsync(b.Messages, 1, "the message with the picture"))[0];
        Assert.That(atBob.Attachments.Single().AttachmentId, Is.EqualTo(attachment.AttachmentId));
        Assert.That(atBob.Attachments.Single().Size, Is.EqualTo((ulong)Picture.Length));
        Assert.That(await b.DownloadAttachmentAsync(attachment.AttachmentId), Is.EqualTo(Picture));

        var atLaptop = (await ChatAssert.ReceiveAsync(laptop.Messages, 1, "the message on alice's laptop"))[0];
        Assert.That(await laptop.DownloadAttachmentAsync(atLaptop.Attachments.Single().AttachmentId), Is.EqualTo(Picture));
    }

    [Test]
    public async Task Non_participants_and_removed_participants_are_refused_a_download_url()
    {
        var (alice, bob, eve) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"), TestEnvironment.NewId("eve"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone");
        await using var e = await Node.ConnectAsync(eve, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var attachment = await a.UploadAttachmentAsync(Picture, "image/jpeg");
        await a.SendMessageAsync(chat.ChatId, "before", [attachment]);

        Assert.That(await ChatAssert.ErrorOfAsync(() => e.DownloadAttachmentAsync(attachment.AttachmentId)), Is.EqualTo(ErrorCode.Forbidden));
        Assert.That(await b.DownloadAttachmentAsync(attachment.AttachmentId), Is.EqualTo(Picture));

        // Access follows current participation: once removed, bob loses the chat's attachments, earlier ones included.
        await a.RemoveParticipantAsync(chat.ChatId, bob);
        var later = await a.UploadAttachmentAsync(Picture, "image/jpeg");
        await a.SendMessageAsync(chat.ChatId, "after", [later]);
        Assert.That(await ChatAssert.ErrorOfAsync(() => b.DownloadAttachmentAsync(later.AttachmentId)), Is.EqualTo(ErrorCode.Forbidden));
        Assert.That(await ChatAssert.ErrorOfAsync(() => b.DownloadAttachmentAsync(attachment.AttachmentId)), Is.EqualTo(ErrorCode.Forbidden));
        Assert.That(await ChatAssert.ErrorOfAsync(() => b.DownloadAttachmentAsync("AAAAAAAAAAAAAAAAAAAAAA")), Is.EqualTo(ErrorCode.NotFound));
    }

    [Test]
    public async Task Bad_grants_and_bad_references_are_refused_and_store_nothing()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);

        Assert.That(await ChatAssert.ErrorOfAsync(() => a.UploadAttachmentAsync(new byte[100_001], "image/png")), Is.EqualTo(ErrorCode.TooLarge));
        Assert.That(await ChatAssert.ErrorOfAsync(() => a.UploadAttachmentAsync(Picture, "application/x-msdownload")), Is.EqualTo(ErrorCode.BadRequest));

        // Granted but never uploaded.
        var grant = (await a.RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = "image/png", Size = 10, Sha256 = new string('a', 64) },
        })).GetAttachmentUploadResult;
        var missing = new Attachment { AttachmentId = grant.AttachmentId };
        Assert.That(await ChatAssert.ErrorOfAsync(() => a.SendMessageAsync(chat.ChatId, "missing", [missing])), Is.EqualTo(ErrorCode.NotFound));

        // Bob's upload, named by alice.
        var bobs = await b.UploadAttachmentAsync(Picture, "image/png");
        Assert.That(await ChatAssert.ErrorOfAsync(() => a.SendMessageAsync(chat.ChatId, "not mine", [bobs])), Is.EqualTo(ErrorCode.Forbidden));

        // Nothing was stored for the refused sends: the next message takes seq 1.
        var first = await a.SendMessageAsync(chat.ChatId, "the first stored message");
        Assert.That(first.Seq, Is.EqualTo(1UL));
    }

    [Test]
    public async Task Sizes_beyond_the_limit_and_content_types_that_are_not_plain_media_types_are_refused()
    {
        await using var a = await Node.ConnectAsync(TestEnvironment.NewId("alice"), "phone");
        Task<ServerFrame> Grant(string contentType, ulong size) => a.RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = contentType, Size = size, Sha256 = new string('a', 64) },
        });

        // Sizes that turn negative as signed 64-bit numbers must not pass the limit.
        foreach (var size in new[] { 1UL << 63, ulong.MaxValue, (1UL << 63) + 10 })
        {
            Assert.That(await ChatAssert.ErrorOfAsync(() => Grant("image/png", size)), Is.EqualTo(ErrorCode.TooLarge), $"size {size}");
        }

        // Header injection, documents a browser runs, parameters and spaces: only `type/subtype` tokens of the list.
        foreach (var type in new[] { "image/x\r\nX-Evil: 1", "image/svg+xml", "image/png; charset=utf-8", "image/ png", "image/", "/png", "image/png\u0000", "text/html" })
        {
            Assert.That(await ChatAssert.ErrorOfAsync(() => Grant(System.Text.RegularExpressions.Regex.Unescape(type), 10)), Is.EqualTo(ErrorCode.BadRequest), type);
        }

        Assert.That((await Grant("image/webp", 10)).GetAttachmentUploadResult.AttachmentId, Is.Not.Empty, "a plain media type of the list is granted");
    }

    [Test]
    public async Task The_sweeper_deletes_expired_objects_and_their_metadata()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Media:Store:Endpoint"] = TestEnvironment.S3Endpoint,
            ["Media:Store:Bucket"] = "chatnode-test-media",
            ["Media:AttachmentTtl"] = "00:00:02",
            ["Media:SweepInterval"] = "00:00:00.500",
        });
        await using var a = await node.ConnectAsync(TestEnvironment.NewId("alice"), "phone");
        var attachment = await a.UploadAttachmentAsync(Picture, "image/png");
        var records = node.Services.GetRequiredService<IAttachmentStore>();
        var record = (await records.GetAsync([attachment.AttachmentId], CancellationToken.None))[0];
        Assert.That(record, Is.Not.Null);
        var blobs = node.Services.GetRequiredService<IBlobStore>();
        Assert.That(await blobs.StatAsync(record!.ObjectKey, CancellationToken.None), Is.Not.Null, "uploaded");

        await Poll.UntilAsync(async () => await blobs.StatAsync(record.ObjectKey, CancellationToken.None) is null, "the sweeper to delete the object", TimeSpan.FromSeconds(15));
        Assert.That((await records.GetAsync([attachment.AttachmentId], CancellationToken.None))[0], Is.Null, "its metadata is gone too");
        Assert.That(await ChatAssert.ErrorOfAsync(() => a.DownloadAttachmentAsync(attachment.AttachmentId)), Is.EqualTo(ErrorCode.NotFound));
    }

    [Test]
    public async Task A_sent_attachment_keeps_its_bytes_when_its_upload_url_is_used_again_and_downloads_as_an_attachment_of_its_type()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        await using var b = await Node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Picture));
        var grant = (await a.RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = "image/png", Size = (ulong)Picture.Length, Sha256 = sha256 },
        })).GetAttachmentUploadResult;
        using var http = new HttpClient();
        (await http.PutAsync(new Uri(grant.UploadUrl), Content(Picture, "image/png"))).EnsureSuccessStatusCode();
        await a.SendMessageAsync(chat.ChatId, "look", [new Attachment { AttachmentId = grant.AttachmentId, ContentType = "image/png", Size = (ulong)Picture.Length, Sha256 = sha256 }]);
        await ChatAssert.ReceiveAsync(b.Messages, 1, "the message with the picture");

        var record = (await Node.Services.GetRequiredService<IAttachmentStore>().GetAsync([grant.AttachmentId], CancellationToken.None))[0];
        Assert.That(await Node.Services.GetRequiredService<IBlobStore>().StatAsync(record!.ObjectKey, CancellationToken.None), Is.Null, "sealed: the upload is not kept besides");

        // The sender swaps the object for a web page through the upload URL, still valid after the send.
        (await http.PutAsync(new Uri(grant.UploadUrl), Content(new byte[5000], "text/html"))).EnsureSuccessStatusCode();

        Assert.That(await b.DownloadAttachmentAsync(grant.AttachmentId), Is.EqualTo(Picture), "recipients get the bytes that were sent");
        var download = await b.GetAttachmentDownloadAsync(grant.AttachmentId);
        using var response = await http.GetAsync(new Uri(download.DownloadUrl));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("image/png"), "served with the declared type");
        Assert.That(response.Content.Headers.ContentDisposition?.DispositionType, Is.EqualTo("attachment"), "never shown inline");
    }

    [Test]
    public async Task Bytes_of_another_size_than_granted_are_refused_at_send_and_deleted()
    {
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await Node.ConnectAsync(alice, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var grant = (await a.RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = "image/png", Size = 16, Sha256 = new string('c', 64) },
        })).GetAttachmentUploadResult;
        using var http = new HttpClient();
        (await http.PutAsync(new Uri(grant.UploadUrl), Content(Picture, "image/png"))).EnsureSuccessStatusCode();

        var refused = await ChatAssert.ErrorOfAsync(() => a.SendMessageAsync(chat.ChatId, "look",
            [new Attachment { AttachmentId = grant.AttachmentId, ContentType = "image/png", Size = 16, Sha256 = new string('c', 64) }]));
        Assert.That(refused, Is.EqualTo(ErrorCode.BadRequest));
        var record = (await Node.Services.GetRequiredService<IAttachmentStore>().GetAsync([grant.AttachmentId], CancellationToken.None))[0];
        var blobs = Node.Services.GetRequiredService<IBlobStore>();
        Assert.That(await blobs.StatAsync(record!.ObjectKey, CancellationToken.None), Is.Null, "the oversized upload is gone at once, not at expiry");
    }

    [Test]
    public async Task An_upload_of_another_size_than_granted_that_is_never_sent_is_deleted_once_its_url_expired()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Media:Store:Endpoint"] = TestEnvironment.S3Endpoint,
            ["Media:Store:Bucket"] = "chatnode-test-media",
            ["Media:UploadUrlTtl"] = "00:00:02",
            ["Media:UploadCheckDelay"] = "00:00:00",
            ["Media:SweepInterval"] = "00:00:00.500",
        });
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await node.ConnectAsync(alice, "phone");
        await using var b = await node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Picture));
        using var http = new HttpClient();

        // Granted first, so checked first: an honest upload, sent only after its URL expired.
        var honest = (await a.RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = "image/png", Size = (ulong)Picture.Length, Sha256 = sha256 },
        })).GetAttachmentUploadResult;
        (await http.PutAsync(new Uri(honest.UploadUrl), Content(Picture, "image/png"))).EnsureSuccessStatusCode();

        // 16 bytes granted, 70 kB stored through the URL, never sent.
        var oversized = (await a.RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = "image/png", Size = 16, Sha256 = new string('c', 64) },
        })).GetAttachmentUploadResult;
        (await http.PutAsync(new Uri(oversized.UploadUrl), Content(Picture, "image/png"))).EnsureSuccessStatusCode();
        var blobs = node.Services.GetRequiredService<IBlobStore>();
        Assert.That(await blobs.StatAsync(MediaService.UploadKey(oversized.AttachmentId), CancellationToken.None), Is.Not.Null, "the store took the bytes");

        await Poll.UntilAsync(async () => await blobs.StatAsync(MediaService.UploadKey(oversized.AttachmentId), CancellationToken.None) is null,
            "the sweeper to delete the oversized upload", TimeSpan.FromSeconds(20));
        Assert.That(await blobs.StatAsync(MediaService.UploadKey(honest.AttachmentId), CancellationToken.None), Is.Not.Null, "an upload of the granted size is kept");
        await a.SendMessageAsync(chat.ChatId, "late", [new Attachment { AttachmentId = honest.AttachmentId, ContentType = "image/png", Size = (ulong)Picture.Length, Sha256 = sha256 }]);
        await ChatAssert.ReceiveAsync(b.Messages, 1, "the message with the honest upload");
        Assert.That(await b.DownloadAttachmentAsync(honest.AttachmentId), Is.EqualTo(Picture), "and it can still be sent after its URL expired");
    }

    private static ByteArrayContent Content(byte[] bytes, string type)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(type);
        return content;
    }

    [Test]
    public async Task An_expired_upload_url_is_refused_by_the_store()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Media:Store:Endpoint"] = TestEnvironment.S3Endpoint,
            ["Media:Store:Bucket"] = "chatnode-test-media",
            ["Media:UploadUrlTtl"] = "00:00:01",
        });
        await using var a = await node.ConnectAsync(TestEnvironment.NewId("alice"), "phone");
        var grant = (await a.RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = "image/png", Size = 3, Sha256 = new string('b', 64) },
        })).GetAttachmentUploadResult;
        using var http = new HttpClient();
        await Poll.UntilAsync(async () =>
        {
            using var response = await http.PutAsync(new Uri(grant.UploadUrl), new ByteArrayContent([1, 2, 3]));
            return response.StatusCode == HttpStatusCode.Forbidden;
        }, "the upload URL to expire", TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task A_node_whose_media_store_is_down_keeps_serving_chats_and_answers_media_with_unavailable()
    {
        await using var node = await TestNode.StartAsync(new Dictionary<string, string?>
        {
            ["Media:Store:Endpoint"] = "http://127.0.0.1:9",
            ["Media:SweepInterval"] = "00:00:00.200",
        });
        var (alice, bob) = (TestEnvironment.NewId("alice"), TestEnvironment.NewId("bob"));
        await using var a = await node.ConnectAsync(alice, "phone");
        await using var b = await node.ConnectAsync(bob, "phone");
        var chat = await a.CreateChatAsync([bob]);
        await a.SendMessageAsync(chat.ChatId, "text still works");
        await ChatAssert.ReceiveAsync(b.Messages, 1, "a text message while the media store is down");

        var grant = (await a.RequestAsync(new ClientFrame
        {
            GetAttachmentUpload = new GetAttachmentUpload { ContentType = "image/png", Size = 3, Sha256 = new string('c', 64) },
        })).GetAttachmentUploadResult;
        var send = a.RequestAsync(new ClientFrame
        {
            RequestId = 0,
            SendMessage = new SendMessage { ChatId = chat.ChatId, ClientMessageId = "with-media", Attachments = { new Attachment { AttachmentId = grant.AttachmentId } } },
        });
        Assert.That(await ChatAssert.ErrorOfAsync(() => send), Is.EqualTo(ErrorCode.Unavailable));
        Assert.That(await a.PingAsync(), Is.GreaterThan(0), "the node is still up after its sweeper failed to reach the store");
    }
}
