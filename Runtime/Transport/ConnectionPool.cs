using System.Net;

namespace Orchestration.Runtime.Transport;

/// <summary>
/// The client's connections to one address: a fixed number of slots used round-robin. A slot holds the connect task,
/// so concurrent callers share one attempt; a failed attempt or a closed connection is replaced by the next caller.
/// </summary>
internal sealed class ConnectionPool(SiloTransportClient client, string address, EndPoint endPoint, int size)
{
    private readonly Task<ClientConnection>?[] _slots = new Task<ClientConnection>?[size];
    private readonly Lock _gate = new();
    private uint _next;

    public string Address { get; } = address;

    public EndPoint EndPoint { get; } = endPoint;

    public Task<ClientConnection> GetAsync()
    {
        var index = (int)(Interlocked.Increment(ref _next) % (uint)_slots.Length);
        var slot = Volatile.Read(ref _slots[index]);
        if (slot is { IsCompleted: false } || (slot is { IsCompletedSuccessfully: true } && slot.Result.IsUsable))
        {
            return slot;
        }

        lock (_gate)
        {
            slot = _slots[index];
            if (slot is { IsCompleted: false } || (slot is { IsCompletedSuccessfully: true } && slot.Result.IsUsable))
            {
                return slot;
            }

            slot = client.ConnectAsync(this);
            Volatile.Write(ref _slots[index], slot);
            return slot;
        }
    }

    public void Remove(ClientConnection connection)
    {
        lock (_gate)
        {
            for (var index = 0; index < _slots.Length; index++)
            {
                if (_slots[index] is { IsCompletedSuccessfully: true } slot && slot.Result == connection)
                {
                    _slots[index] = null;
                }
            }
        }
    }
}
