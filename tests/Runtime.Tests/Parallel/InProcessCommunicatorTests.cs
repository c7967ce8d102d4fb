using DeepSeek.Runtime.Distributed;

namespace DeepSeek.Runtime.Tests.Distributed;

public sealed class InProcessCommunicatorTests
{
    private static float[] Values(int rank, int n, int salt = 0)
    {
        var random = new Random(1000 * rank + salt);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * MathF.Pow(10, random.Next(-3, 4))).ToArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    public void AllReduce_sums_in_rank_order_and_every_rank_gets_the_same_bits(int size)
    {
        const int n = 1031;
        var expected = Values(0, n);
        for (var r = 1; r < size; r++)
        {
            var x = Values(r, n);
            for (var i = 0; i < n; i++) expected[i] += x[i];
        }
        var results = Ranks.Run(size, c =>
        {
            var buffer = Values(c.Rank, n);
            c.AllReduce<float>(buffer);
            return buffer;
        });
        foreach (var result in results) Assert.Equal(expected, result);
    }

    [Fact]
    public void AllReduce_max_min_and_integer_and_double_types()
    {
        var results = Ranks.Run(3, c =>
        {
            var max = new[] { c.Rank, -c.Rank, 5 };
            c.AllReduce<int>(max, ReduceOp.Max);
            var min = new long[] { c.Rank, -c.Rank };
            c.AllReduce<long>(min, ReduceOp.Min);
            var sum = new[] { 0.1 * (c.Rank + 1) };
            c.AllReduce<double>(sum);
            return (max, min, sum);
        });
        foreach (var (max, min, sum) in results)
        {
            Assert.Equal([2, 0, 5], max);
            Assert.Equal([0L, -2L], min);
            Assert.Equal((0.1 + 0.2) + 0.30000000000000004, sum[0]);
        }
    }

    [Fact]
    public void Reductions_of_other_types_are_refused_before_anything_is_sent()
    {
        var c = InProcessCommunicator.Create(1)[0];
        Assert.Throws<NotSupportedException>(() => c.AllReduce(new byte[3].AsSpan()));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void AllGather_ReduceScatter_AllToAll_and_Broadcast_move_the_right_blocks(int size)
    {
        const int n = 5;
        var results = Ranks.Run(size, c =>
        {
            var gathered = new float[size * n];
            c.AllGather<float>(Values(c.Rank, n), gathered);
            var scattered = new float[n];
            c.ReduceScatter<float>(Values(c.Rank, size * n, salt: 7), scattered);
            var send = Enumerable.Range(0, size * n).Select(i => 100 * c.Rank + i).ToArray();
            var exchanged = new int[size * n];
            c.AllToAll<int>(send, exchanged);
            var broadcast = c.Rank == size - 1 ? new[] { 4.0, 2.0 } : new double[2];
            c.Broadcast<double>(broadcast, root: size - 1);
            c.Barrier();
            return (gathered, scattered, exchanged, broadcast);
        });
        for (var rank = 0; rank < size; rank++)
        {
            var (gathered, scattered, exchanged, broadcast) = results[rank];
            Assert.Equal(Enumerable.Range(0, size).SelectMany(r => Values(r, n)), gathered);
            var sum = Values(0, size * n, 7);
            for (var r = 1; r < size; r++)
            {
                var x = Values(r, size * n, 7);
                for (var i = 0; i < sum.Length; i++) sum[i] += x[i];
            }
            Assert.Equal(sum.AsSpan(rank * n, n).ToArray(), scattered);
            Assert.Equal(Enumerable.Range(0, size).SelectMany(r => Enumerable.Range(rank * n, n).Select(i => 100 * r + i)), exchanged);
            Assert.Equal([4.0, 2.0], broadcast);
        }
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    public void AllToAllV_delivers_variable_blocks_after_a_count_exchange(int size, int seed)
    {
        var results = Ranks.Run(size, c =>
        {
            var random = new Random(seed * 31 + c.Rank);
            var sendCounts = Enumerable.Range(0, size).Select(_ => random.Next(0, 6)).ToArray();
            var send = Enumerable.Range(0, size).SelectMany(j => Enumerable.Range(0, sendCounts[j]).Select(k => c.Rank * 10000 + j * 100 + k)).ToArray();
            var receiveCounts = new int[size];
            c.AllToAll<int>(sendCounts, receiveCounts);
            var receive = new int[receiveCounts.Sum()];
            c.AllToAllV<int>(send, sendCounts, receive, receiveCounts);
            return receive;
        });
        for (var rank = 0; rank < size; rank++)
        {
            var expected = new List<int>();
            for (var source = 0; source < size; source++)
            {
                var random = new Random(seed * 31 + source);
                var counts = Enumerable.Range(0, size).Select(_ => random.Next(0, 6)).ToArray();
                expected.AddRange(Enumerable.Range(0, counts[rank]).Select(k => source * 10000 + rank * 100 + k));
            }
            Assert.Equal(expected, results[rank]);
        }
    }

    [Fact]
    public void AllToAllV_with_counts_that_do_not_match_the_senders_is_a_typed_error_on_the_receiver()
    {
        var error = Assert.Throws<RankFailedException>(() => Ranks.Run(2, c =>
        {
            var receiveCounts = c.Rank == 0 ? new[] { 1, 2 } : [1, 1];
            c.AllToAllV<int>(new int[2], [1, 1], new int[3], receiveCounts);
        }));
        Assert.IsType<CommunicatorException>(error.InnerException);
        Assert.Contains("rank 1 sends 1 elements to rank 0, which expects 2", error.InnerException!.Message);
    }

    [Fact]
    public void Sends_are_buffered_without_bound_and_matched_by_source_and_tag_in_order()
    {
        var results = Ranks.Run(3, c =>
        {
            if (c.Rank != 0)
            {
                for (var i = 0; i < 1000; i++) c.Send<int>([c.Rank, i], 0, tag: i % 3);
                return [];
            }
            var seen = new List<(int, int)>();
            var buffer = new int[4];
            foreach (var tag in new[] { 2, 0, 1 })
                foreach (var source in new[] { 2, 1 })
                    for (var i = tag; i < 1000; i += 3)
                    {
                        Assert.Equal(2, c.Receive<int>(buffer, source, tag));
                        seen.Add((buffer[0], buffer[1]));
                    }
            return seen;
        });
        var seen = results[0];
        Assert.Equal(2000, seen.Count);
        Assert.Equal(Enumerable.Range(0, 1000).Where(i => i % 3 == 2).Select(i => (2, i)), seen.Take(333));
    }

    [Fact]
    public void Receive_into_a_short_buffer_or_of_another_type_is_a_typed_error()
    {
        var c = InProcessCommunicator.Create(1)[0];
        c.Send<int>([1, 2, 3], 0, 5);
        Assert.Throws<CommunicatorException>(() => c.Receive(new int[2].AsSpan(), 0, 5));
        c.Send<int>([1], 0, 5);
        Assert.Throws<CommunicatorException>(() => c.Receive(new float[2].AsSpan(), 0, 5));
    }

    [Fact]
    public async Task Async_variants_give_the_same_results_as_the_blocking_ones()
    {
        var results = await Task.Run(() => Ranks.Run(4, c => RunAsync(c).GetAwaiter().GetResult()));
        foreach (var (sum, gathered, received) in results)
        {
            Assert.Equal([6f, 4f], sum);
            Assert.Equal([0, 1, 2, 3], gathered);
            Assert.Equal(42, received);
        }

        static async Task<(float[], int[], int)> RunAsync(ICommunicator c)
        {
            var sum = new[] { (float)c.Rank, 1f };
            await c.AllReduceAsync<float>(sum);
            var gathered = new int[c.Size];
            await c.AllGatherAsync<int>(new[] { c.Rank }, gathered);
            await c.SendAsync<int>(new[] { 42 }, (c.Rank + 1) % c.Size, 9);
            var received = new int[1];
            await c.ReceiveAsync<int>(received, (c.Rank + c.Size - 1) % c.Size, 9);
            var scattered = new float[1];
            await c.ReduceScatterAsync<float>(new float[c.Size], scattered);
            var exchanged = new int[c.Size];
            await c.AllToAllAsync<int>(new int[c.Size], exchanged);
            await c.AllToAllVAsync<int>(new int[c.Size], Enumerable.Repeat(1, c.Size).ToArray(), exchanged, Enumerable.Repeat(1, c.Size).ToArray());
            await c.BroadcastAsync<int>(exchanged, 0);
            await c.BarrierAsync();
            return (sum, gathered, received[0]);
        }
    }

    [Fact]
    public void Split_orders_ranks_by_key_then_rank_and_sub_groups_work_independently()
    {
        var results = Ranks.Run(6, c =>
        {
            using var sub = c.Split(color: c.Rank % 2, key: -c.Rank);
            var sum = new[] { c.Rank };
            sub.AllReduce<int>(sum);
            return (sub.Rank, sub.Size, sum[0]);
        });
        Assert.Equal([(2, 3, 6), (2, 3, 9), (1, 3, 6), (1, 3, 9), (0, 3, 6), (0, 3, 9)], results);
    }

    [Fact]
    public void A_rank_that_throws_ends_the_others_with_RankFailedException_instead_of_a_hang()
    {
        var outcomes = new Exception?[3];
        var error = Assert.Throws<RankFailedException>(() => Ranks.Run(3, c =>
        {
            if (c.Rank == 1) throw new InvalidOperationException("boom in the forward pass");
            try
            {
                c.AllReduce<float>(new float[8]);
                using var sub = c.Split(0, 0);
            }
            catch (Exception e)
            {
                outcomes[c.Rank] = e;
                throw;
            }
        }, operationTimeout: Timeout.InfiniteTimeSpan));
        Assert.Equal(1, error.FailedRank);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        foreach (var rank in new[] { 0, 2 })
        {
            var failed = Assert.IsType<RankFailedException>(outcomes[rank]);
            Assert.Equal(1, failed.FailedRank);
            Assert.Contains("boom in the forward pass", failed.Message);
        }
    }

    [Fact]
    public void A_rank_blocked_in_receive_is_released_when_the_sender_fails()
    {
        Exception? seen = null;
        Assert.Throws<RankFailedException>(() => Ranks.Run(2, c =>
        {
            if (c.Rank == 0) c.Abort("out of memory");
            else
            {
                try { c.Receive(new float[4].AsSpan(), 0, 0); }
                catch (Exception e) { seen = e; throw; }
            }
        }, operationTimeout: Timeout.InfiniteTimeSpan));
        Assert.Equal(0, Assert.IsType<RankFailedException>(seen).FailedRank);
    }

    [Fact]
    public void A_rank_that_never_arrives_times_out_and_breaks_the_group()
    {
        var error = Assert.Throws<RankFailedException>(() => Ranks.Run(2, c =>
        {
            if (c.Rank == 0) c.Barrier();
        }, operationTimeout: TimeSpan.FromMilliseconds(300)));
        Assert.IsType<CommunicatorTimeoutException>(error.InnerException);
        Assert.Equal(0, error.FailedRank);
    }

    [Fact]
    public void Cancelling_a_collective_breaks_the_group_for_the_others()
    {
        var outcomes = new Exception?[2];
        Assert.Throws<RankFailedException>(() => Ranks.Run(2, c =>
        {
            try
            {
                if (c.Rank == 0)
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
                    c.Barrier(cts.Token);
                }
                else
                {
                    c.Receive(new int[1].AsSpan(), 0, 3);
                }
            }
            catch (Exception e)
            {
                outcomes[c.Rank] = e;
                throw;
            }
        }, operationTimeout: Timeout.InfiniteTimeSpan));
        Assert.IsAssignableFrom<OperationCanceledException>(outcomes[0]);
        Assert.Equal(0, Assert.IsType<RankFailedException>(outcomes[1]).FailedRank);
    }

    [Fact]
    public void Mismatched_collectives_are_a_typed_error_on_every_rank()
    {
        var error = Assert.Throws<RankFailedException>(() => Ranks.Run(2, c =>
        {
            if (c.Rank == 0) c.Barrier(); else c.AllReduce<int>(new int[1]);
        }));
        Assert.Contains("collective mismatch", error.Message);
    }

    [Fact]
    public void Ranks_that_disagree_on_lengths_get_a_typed_error()
    {
        var error = Assert.Throws<RankFailedException>(() => Ranks.Run(2, c => c.AllReduce<float>(new float[2 + c.Rank]))) ;
        Assert.Contains("disagree on the buffer length", error.InnerException!.Message);
    }
}
