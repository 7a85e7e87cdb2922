using System.Diagnostics;
using System.Text.Json;
using Orchestration.Runtime.Transport;

namespace Orchestration.Runtime.Calls.Remote;

/// <summary>
/// A silo's side of remote calls: a call for a grain whose partition this silo accepts runs here (through the
/// dispatcher, as a local call); any other is answered "not mine" without running, so the caller may send it again.
/// </summary>
/// <remarks>
/// Requests arrive on the connection's read loop. A small one is read there and handed to its activation's queue: that
/// runs only the runtime's own code and System.Text.Json reading the arguments, and never waits (the grain runs later,
/// on its activation's turn, which writes the answer). A large request, whose reading would hold up the requests behind
/// it, and the silo status, which counts activations, go to the thread pool first.
/// </remarks>
internal sealed class RemoteCallHandler : ISiloRequestReceiver
{
    /// <summary>The target of a request for this silo's own status (activation counts for the cluster view), not a grain.</summary>
    public const string SiloStatusTarget = "$silo-status";

    private const int ReadLoopLimit = 16 * 1024;

    private readonly SiloRuntime _runtime;
    private readonly RemoteCallNames _names;

    public RemoteCallHandler(SiloRuntime runtime)
    {
        _runtime = runtime;
        _names = new RemoteCallNames(runtime.Registry, SiloStatusTarget);
    }

    public void Receive(ReadOnlyMemory<byte> request, SiloResponder responder)
    {
        if (request.Length > ReadLoopLimit)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Handler.HandleOffLoop(state.Request, state.Responder), (Handler: this, Request: request, Responder: responder), preferLocal: false);
            return;
        }

        Handle(request, responder);
    }

    /// <summary>Like <see cref="Handle"/>, on the thread pool, where nobody else would answer for an exception it throws.</summary>
    private void HandleOffLoop(ReadOnlyMemory<byte> request, SiloResponder responder)
    {
        try
        {
            Handle(request, responder);
        }
        catch (Exception exception)
        {
            responder.Fail(exception); // Handle throws only before it has answered
        }
    }

    private void Handle(ReadOnlyMemory<byte> requestBytes, SiloResponder responder)
    {
        var json = _runtime.Json;
        RemoteCallRequest request;
        try
        {
            request = RemoteCallCodec.ReadRequest(requestBytes.Span, _names, json);
        }
        catch (Exception exception)
        {
            responder.Fail(exception); // not an envelope of ours
            return;
        }

        var target = new GrainId(request.GrainType, request.GrainKey);
        if (request.GrainType == SiloStatusTarget)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Handler.AnswerStatus(state.Responder), (Handler: this, Responder: responder), preferLocal: false);
        }
        else if (_runtime.Router is not { } router || !router.IsLocal(_runtime, target))
        {
            responder.Respond(RemoteCallCodec.NotOwner);
        }
        else if (request.Unreadable is { } unreadable)
        {
            responder.Respond(RemoteCallCodec.WriteFailed(unreadable, json));
        }
        else
        {
            var call = new IncomingRemoteCall(request.Resolved!, request.Arguments, _runtime.TimeProvider.GetTimestamp(), StartSpan(request.TraceParent), responder, json);
            try
            {
                // Arguments fresh from the wire are this call's own: no copy, unlike a call sent in this process. Local, as
                // just checked: should the partition go in between, DeliverLocally finds no lease and forwards the call.
                _runtime.Dispatcher.DeliverLocally(target, call);
            }
            catch (Exception exception)
            {
                call.Fail(exception);
            }
        }
    }

    private void AnswerStatus(SiloResponder responder)
    {
        byte[] answer;
        try
        {
            answer = JsonSerializer.SerializeToUtf8Bytes(
                new RemoteCallResponse(RemoteCallOutcome.Completed,
                    JsonSerializer.SerializeToElement(_runtime.GetStatus(), Management.RuntimeContractsJsonContext.Default.SiloStatus)),
                RemoteCallJsonContext.Default.RemoteCallResponse);
        }
        catch (Exception exception)
        {
            responder.Fail(exception);
            return;
        }

        responder.Respond(answer);
    }

    /// <summary>The call becomes a child of the caller's span in the other process; it ends with the answer.</summary>
    private static Activity? StartSpan(string? traceParent)
    {
        if (traceParent is null || !ActivityContext.TryParse(traceParent, null, out var context))
        {
            return null;
        }

        // Starting a span makes it current; this thread (a read loop) goes on with other requests, so put its own back.
        var current = Activity.Current;
        var span = RuntimeInstruments.StartChild("orchestration.remote_call", ActivityKind.Server, context);
        Activity.Current = current;
        return span;
    }
}
