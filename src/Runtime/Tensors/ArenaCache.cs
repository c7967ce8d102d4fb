using System.Collections.Concurrent;

namespace DeepSeek.Runtime.Tensors;

/// <summary>
/// Keeps one <see cref="Arena"/> per shape key (e.g. batch × sequence length), planning and allocating it on first
/// use. Lookup is thread-safe, and each key's plan function runs exactly once even when many threads ask at once
/// (unless it throws, in which case the next request tries again). Disposing the cache disposes its arenas.
/// </summary>
/// <typeparam name="TKey">Shape key; equality decides which arena is reused.</typeparam>
public sealed class ArenaCache<TKey> : IDisposable where TKey : notnull
{
    private readonly Func<TKey, ArenaPlan> _plan;
    private readonly ConcurrentDictionary<TKey, Lazy<Arena>> _arenas = new();
    private readonly Lock _gate = new();
    private readonly List<Arena> _built = [];
    private bool _disposed;

    /// <summary>Creates an empty cache that builds each key's plan with <paramref name="plan"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="plan"/> is null.</exception>
    public ArenaCache(Func<TKey, ArenaPlan> plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        _plan = plan;
    }

    /// <summary>Number of keys with an arena built or being built.</summary>
    public int Count => _arenas.Count;

    /// <summary>The arena for <paramref name="key"/>, built on first use.</summary>
    /// <exception cref="ObjectDisposedException">The cache was disposed.</exception>
    /// <exception cref="InvalidOperationException">The plan function returned null.</exception>
    public Arena Get(TKey key)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        var lazy = _arenas.GetOrAdd(key, k => new Lazy<Arena>(() => Build(k), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // Lazy caches a failure; forget it so a later Get can retry (only this exact entry is removed).
            _arenas.TryRemove(new KeyValuePair<TKey, Lazy<Arena>>(key, lazy));
            throw;
        }
    }

    /// <summary>Disposes every arena built so far; later <see cref="Get"/> calls throw.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            Volatile.Write(ref _disposed, true);
            foreach (var arena in _built) arena.Dispose();
            _built.Clear();
        }
        _arenas.Clear();
    }

    private Arena Build(TKey key)
    {
        var plan = _plan(key) ?? throw new InvalidOperationException($"the plan function returned null for key {key}");
        // Allocate and record under the gate so Dispose sees every arena and none is created after it.
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var arena = new Arena(plan);
            _built.Add(arena);
            return arena;
        }
    }
}
