namespace Orchestration.Grains.Idempotency;

/// <summary>An HTTP answer kept for replay.</summary>
/// <param name="StatusCode">The HTTP status.</param>
/// <param name="ContentType">The <c>Content-Type</c> header, if any.</param>
/// <param name="Location">The <c>Location</c> header, if any.</param>
/// <param name="Body">The body bytes.</param>
public sealed record IdempotentResponse(int StatusCode, string? ContentType, string? Location, byte[] Body);
