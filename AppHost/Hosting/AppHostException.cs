namespace Orchestration.AppHost.Hosting;

/// <summary>A failure the AppHost explains in one message (no stack trace): what went wrong and what to do.</summary>
internal sealed class AppHostException(string message) : Exception(message);
