using System.Runtime.InteropServices;
using DeepSeek.Runtime.Tensors;

namespace DeepSeek.Runtime.Tests.Tensors;

public unsafe class TensorViewTests
{
    /// <summary>A pinned [2, 3, 4] tensor holding 0..23, viewed without copying.</summary>
    private sealed class Pinned : IDisposable
    {
        private GCHandle _handle;

        public Pinned(int n)
        {
            Data = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
            _handle = GCHandle.Alloc(Data, GCHandleType.Pinned);
        }

        public float[] Data { get; }

        public TensorView<float> View(Shape shape) => new((float*)_handle.AddrOfPinnedObject(), shape, this);

        public void Dispose() => _handle.Free();
    }

    [Fact]
    public void Indexing_follows_row_major_layout()
    {
        using var p = new Pinned(24);
        var v = p.View(Shape.Of(2, 3, 4));
        Assert.Equal([12L, 4L, 1L], v.Strides.ToArray());
        Assert.Equal(1 * 12 + 2 * 4 + 3, v[1, 2, 3]);
        v[0, 1, 2] = -1f;
        Assert.Equal(-1f, p.Data[6]);
        Assert.Throws<IndexOutOfRangeException>(() => v[2, 0, 0]);
        Assert.Throws<ArgumentException>(() => v[0, 0]);
    }

    [Fact]
    public void Slices_selects_and_transposes_share_memory()
    {
        using var p = new Pinned(24);
        var v = p.View(Shape.Of(2, 3, 4));

        var row = v.Row(1);                      // (3, 4) starting at 12
        Assert.Equal(Shape.Of(3, 4), row.Shape);
        Assert.Equal(12f, row[0, 0]);
        Assert.True(row.IsContiguous);

        var cols = v.Slice(2, 1, 2);             // (2, 3, 2): columns 1..2 of every row
        Assert.False(cols.IsContiguous);
        var copy = new float[cols.ElementCount];
        cols.CopyTo(copy);
        Assert.Equal([1f, 2f, 5f, 6f, 9f, 10f, 13f, 14f, 17f, 18f, 21f, 22f], copy);

        var t = v.Select(0, 0).Transpose(0, 1);  // (4, 3) view of the first matrix, transposed
        Assert.Equal(Shape.Of(4, 3), t.Shape);
        Assert.Equal(v[0, 2, 1], t[1, 2]);
        t[3, 0] = 99f;
        Assert.Equal(99f, p.Data[3]);            // writes go through: same memory
        Assert.Same(p, t.Owner);
    }

    [Fact]
    public void Reshape_and_cast_need_contiguity_and_equal_sizes()
    {
        using var p = new Pinned(24);
        var v = p.View(Shape.Of(2, 3, 4));
        var flat = v.Reshape(Shape.Of(6, 4));
        Assert.Equal(v[1, 0, 2], flat[3, 2]);
        Assert.Throws<ArgumentException>(() => v.Reshape(Shape.Of(5, 5)));
        Assert.Throws<InvalidOperationException>(() => v.Slice(2, 0, 2).Reshape(Shape.Of(12)));
        Assert.Throws<InvalidOperationException>(() => v.Slice(2, 0, 2).Span.ToArray());

        var bits = v.Cast<uint>();
        Assert.Equal(BitConverter.SingleToUInt32Bits(5f), bits[0, 1, 1]);
        Assert.Throws<InvalidOperationException>(() => v.Cast<ushort>());
    }

    [Fact]
    public void Bad_slices_name_the_axis()
    {
        using var p = new Pinned(24);
        var v = p.View(Shape.Of(2, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.Slice(1, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => v.Slice(3, 0, 1));
        Assert.Throws<IndexOutOfRangeException>(() => v.Select(0, 2));
        Assert.Throws<ArgumentException>(() => new TensorView<float>((float*)0, Shape.Of(2), [1L, 1L]));
        Assert.Throws<ArgumentNullException>(() => new TensorView<float>((float*)0, Shape.Of(2)));
    }

    [Fact]
    public void Shape_basics()
    {
        var s = Shape.Of(7168, 129280);
        Assert.Equal(2, s.Rank);
        Assert.Equal(7168L * 129280, s.ElementCount);
        Assert.Equal(129280, s[-1]);
        Assert.Equal("[7168, 129280]", s.ToString());
        Assert.Equal(Shape.Of(7168, 129280), s);
        Assert.NotEqual(Shape.Of(129280, 7168), s);
        Assert.Equal(1, new Shape().ElementCount);
        Assert.False(new Shape(long.MaxValue, 2).TryGetElementCount(out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Shape(-1));
        Assert.Throws<ArgumentException>(() => new Shape(new long[9]));
    }
}
