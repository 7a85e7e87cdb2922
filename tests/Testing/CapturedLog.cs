using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Orchestration.Testing;

/// <summary>
/// What a host logged at exactly <paramref name="level"/> or above it (<paramref name="andAbove"/>), kept as formatted
/// messages to assert on. Usable as a whole logger factory (a test cluster's) or as one provider among a host's.
/// </summary>
public sealed class CapturedLog(LogLevel level, bool andAbove = false) : ILoggerFactory, ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<string> _messages = new();

    public IReadOnlyCollection<string> Messages => _messages;

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => andAbove ? logLevel >= level : logLevel == level;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            _messages.Enqueue(exception is null ? formatter(state, exception) : $"{formatter(state, exception)}: {exception}");
        }
    }

    public void Dispose()
    {
    }
}
