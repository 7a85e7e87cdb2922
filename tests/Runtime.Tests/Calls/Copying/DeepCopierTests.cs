using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestration.Runtime.Calls.Copying;

namespace Orchestration.Runtime.Tests.Calls.Copying;

public sealed class DeepCopierTests
{
    [Fact]
    public void Copy_MutableClassGraph_MutatingCopyLeavesOriginal()
    {
        var original = new Order { Id = 7, Customer = new Customer { Name = "Ada" }, Lines = [new Line { Sku = "a", Quantity = 1 }] };

        var copy = DeepCopier.Copy(original);
        copy.Id = 8;
        copy.Customer!.Name = "Grace";
        copy.Lines[0].Quantity = 5;
        copy.Lines.Add(new Line { Sku = "b" });

        Assert.NotSame(original, copy);
        Assert.Equal(7, original.Id);
        Assert.Equal("Ada", original.Customer!.Name);
        Assert.Equal(1, original.Lines[0].Quantity);
        Assert.Single(original.Lines);
    }

    [Fact]
    public void Copy_ObjectReferencedTwice_CopiedOnceAndShared()
    {
        var customer = new Customer { Name = "Ada" };
        var original = new Pair { First = customer, Second = customer };

        var copy = DeepCopier.Copy(original);

        Assert.NotSame(customer, copy.First);
        Assert.Same(copy.First, copy.Second);
    }

    [Fact]
    public void Copy_CyclicGraph_CopiesCycle()
    {
        var first = new Customer { Name = "first" };
        var second = new Customer { Name = "second", Friend = first };
        first.Friend = second;

        var copy = DeepCopier.Copy(first);

        Assert.NotSame(first, copy);
        Assert.NotSame(second, copy.Friend);
        Assert.Equal("second", copy.Friend!.Name);
        Assert.Same(copy, copy.Friend.Friend);
    }

    [Fact]
    public void Copy_ArrayContainingItself_CopiesCycle()
    {
        var original = new object?[2];
        original[0] = original;
        original[1] = new Customer { Name = "Ada" };

        var copy = DeepCopier.Copy(original);

        Assert.NotSame(original, copy);
        Assert.Same(copy, copy[0]);
        Assert.NotSame(original[1], copy[1]);
    }

    [Fact]
    public void Copy_RecordOfImmutableMembers_ReturnsSameReference()
    {
        var original = new Money(12.5m, "EUR", new Tag("x"), DateTimeOffset.UnixEpoch, Guid.NewGuid(), ImmutableArray.Create("a"));

        Assert.Same(original, DeepCopier.Copy(original));
        Assert.Same(original, DeepCopier.Copy((object)original));
        Assert.True(DeepCopier.IsShallowCopyable(typeof(Money)));
    }

    [Fact]
    public void Copy_ImmutableAttributeOnType_ReturnsSameReference()
    {
        var original = new DeclaredImmutable([1, 2, 3]);

        Assert.Same(original, DeepCopier.Copy(original));
        Assert.True(DeepCopier.IsShallowCopyable(typeof(DeclaredImmutable)));
    }

    [Fact]
    public void Copy_ImmutableAttributeOnProperty_SharesThatValueOnly()
    {
        var original = new HolderWithImmutableProperty { Shared = [1], Copied = [2] };

        var copy = DeepCopier.Copy(original);

        Assert.NotSame(original, copy);
        Assert.Same(original.Shared, copy.Shared);
        Assert.NotSame(original.Copied, copy.Copied);
    }

    [Fact]
    public void Copy_RecordWithListMember_DeepCopiesList()
    {
        var original = new Tagged("name", ["a", "b"]);

        var copy = DeepCopier.Copy(original);
        copy.Tags.Add("c");

        Assert.NotSame(original, copy);
        Assert.Equal(["a", "b"], original.Tags);
        Assert.Equal(["a", "b", "c"], copy.Tags);
        Assert.False(DeepCopier.IsShallowCopyable(typeof(Tagged)));
    }

    [Fact]
    public void Copy_MutableSubclassOfImmutableLookingBase_Copies()
    {
        ShapeBase original = new MutableShape("circle") { Radius = 2 };

        var copy = DeepCopier.Copy(original);
        ((MutableShape)copy).Radius = 3;

        Assert.NotSame(original, copy);
        Assert.Equal(2, ((MutableShape)original).Radius);
        Assert.False(DeepCopier.IsShallowCopyable(typeof(ShapeBase)));
    }

    [Fact]
    public void Copy_ExactNonSealedBaseInstance_ReturnsSameReference()
    {
        var original = new ShapeBase("square");

        Assert.Same(original, DeepCopier.Copy(original));
    }

    [Fact]
    public void Copy_ArrayOfMutableElements_CopiesArrayAndElements()
    {
        var original = new[] { new Line { Sku = "a" }, null };

        var copy = DeepCopier.Copy(original);
        copy[0]!.Sku = "changed";

        Assert.NotSame(original, copy);
        Assert.Equal("a", original[0]!.Sku);
        Assert.Null(copy[1]);
    }

    [Fact]
    public void Copy_ByteArray_ReturnsIndependentCopy()
    {
        var original = new byte[] { 1, 2, 3 };

        var copy = DeepCopier.Copy(original);
        copy[0] = 9;

        Assert.Equal(new byte[] { 1, 2, 3 }, original);
        Assert.False(DeepCopier.IsShallowCopyable(typeof(byte[])));
    }

    [Fact]
    public void Copy_ArrayOfStructsWithReferenceFields_CopiesReferencesInElements()
    {
        var original = new[] { new Slot(1, new Line { Sku = "a" }) };

        var copy = DeepCopier.Copy(original);
        copy[0].Line.Sku = "changed";

        Assert.Equal("a", original[0].Line.Sku);
    }

    [Fact]
    public void Copy_MultiDimensionalArrayOfMutableElements_ThrowsNotSupported()
    {
        var original = new Line[1, 1];

        var exception = Assert.Throws<NotSupportedException>(() => DeepCopier.Copy(original));
        Assert.Contains("multi-dimensional", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Copy_MultiDimensionalArrayOfPrimitives_ReturnsIndependentCopy()
    {
        var original = new int[2, 2];

        var copy = DeepCopier.Copy(original);
        copy[1, 1] = 4;

        Assert.Equal(0, original[1, 1]);
    }

    [Fact]
    public void Copy_DictionaryWithIdentityHashedKeys_CopiesAndStillFindsKeys()
    {
        var key = new Customer { Name = "Ada" };
        var original = new Dictionary<Customer, List<int>> { [key] = [1] };

        var copy = DeepCopier.Copy(original);
        var (copiedKey, copiedValue) = Assert.Single(copy);
        copiedValue.Add(2);

        Assert.NotSame(key, copiedKey);
        Assert.Same(copiedValue, copy[copiedKey]);
        Assert.Equal([1], original[key]);
    }

    [Fact]
    public void Copy_DictionaryWithComparer_KeepsComparer()
    {
        var original = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase) { ["a"] = 1 };

        var copy = DeepCopier.Copy(original);
        copy["A"] = 2;

        Assert.Same(StringComparer.OrdinalIgnoreCase, copy.Comparer);
        Assert.Equal(1, original["a"]);
        Assert.Equal(2, copy["a"]);
    }

    [Fact]
    public void Copy_HashSetOfMutableItems_CopiesAndStillFindsItems()
    {
        var original = new HashSet<Line> { new() { Sku = "a" } };

        var copy = DeepCopier.Copy(original);
        var item = Assert.Single(copy);

        Assert.NotSame(original.Single(), item);
        Assert.Contains(item, copy);
    }

    [Fact]
    public void Copy_Null_ReturnsNull()
    {
        Assert.Null(DeepCopier.Copy((object?)null));
        Assert.Null(DeepCopier.Copy<Order?>(null));
    }

    [Fact]
    public void Copy_BoxedStructWithReferenceField_CopiesReferencedObject()
    {
        object original = new Slot(1, new Line { Sku = "a" });

        var copy = (Slot)DeepCopier.Copy(original)!;
        copy.Line.Sku = "changed";

        Assert.Equal("a", ((Slot)original).Line.Sku);
        Assert.Equal(1, copy.Number);
    }

    [Fact]
    public void Copy_StructOfMutablePrimitiveFields_IsShallowBecauseCopiedByValue()
    {
        Assert.True(DeepCopier.IsShallowCopyable(typeof(MutablePoint)));
        Assert.Equal(new MutablePoint { X = 3 }, DeepCopier.Copy(new MutablePoint { X = 3 }));
    }

    [Fact]
    public void Copy_GrainReference_ReturnsSameReference()
    {
        var reference = new FakeGrainReference();

        Assert.Same(reference, DeepCopier.Copy(reference));
        Assert.Same(reference, DeepCopier.Copy(new GrainHolder(reference)).Grain);
        Assert.True(DeepCopier.IsShallowCopyable(typeof(IFakeGrain)));
        Assert.True(DeepCopier.IsShallowCopyable(typeof(GrainHolder)));
    }

    [Fact]
    public void Copy_JsonNode_DeepClones()
    {
        var original = new JsonObject { ["a"] = 1 };

        var copy = DeepCopier.Copy(original);
        copy["a"] = 2;

        Assert.Equal(1, (int)original["a"]!);
    }

    [Fact]
    public void Copy_JsonElement_ReturnsSameDocument()
    {
        using var document = JsonDocument.Parse("""{"a":1}""");

        Assert.Same(document, DeepCopier.Copy(document));
        Assert.True(DeepCopier.IsShallowCopyable(typeof(JsonElement)));
    }

    [Fact]
    public void Copy_ImmutableCollectionOfMutableItems_Copies()
    {
        var original = ImmutableList.Create(new Line { Sku = "a" });

        var copy = DeepCopier.Copy(original);
        copy[0].Sku = "changed";

        Assert.Equal("a", original[0].Sku);
        Assert.False(DeepCopier.IsShallowCopyable(typeof(ImmutableList<Line>)));
    }

    [Fact]
    public void CopyElements_SameObjectInTwoArguments_ArrivesAsOneCopy()
    {
        var line = new Line { Sku = "a" };
        var arguments = new object?[] { line, "text", line, 5 };

        DeepCopier.CopyElements(arguments);

        Assert.NotSame(line, arguments[0]);
        Assert.Same(arguments[0], arguments[2]);
        Assert.Equal("text", arguments[1]);
    }

    [Fact]
    public void IsMarkedImmutable_ImmutableParameterAndReturnValue_ReturnsTrue()
    {
        var method = typeof(IFakeGrain).GetMethod(nameof(IFakeGrain.SendAsync))!;

        Assert.True(DeepCopier.IsMarkedImmutable(method.GetParameters()[0]));
        Assert.False(DeepCopier.IsMarkedImmutable(method.GetParameters()[1]));
        Assert.True(DeepCopier.IsMarkedImmutable(method.ReturnParameter));
    }

    [Theory]
    [InlineData(typeof(int))]
    [InlineData(typeof(string))]
    [InlineData(typeof(decimal))]
    [InlineData(typeof(DateTime))]
    [InlineData(typeof(DateTimeOffset))]
    [InlineData(typeof(TimeSpan))]
    [InlineData(typeof(DateOnly))]
    [InlineData(typeof(TimeOnly))]
    [InlineData(typeof(Guid))]
    [InlineData(typeof(Uri))]
    [InlineData(typeof(Version))]
    [InlineData(typeof(int?))]
    [InlineData(typeof(DayOfWeek))]
    [InlineData(typeof(CancellationToken))]
    [InlineData(typeof(Type))]
    [InlineData(typeof(Func<int>))]
    [InlineData(typeof(Task<List<int>>))]
    [InlineData(typeof(ValueTask<List<int>>))]
    [InlineData(typeof(ImmutableArray<string>))]
    [InlineData(typeof(ImmutableDictionary<string, Money>))]
    [InlineData(typeof(KeyValuePair<string, int>))]
    [InlineData(typeof(GrainId))]
    public void IsShallowCopyable_ImmutableType_ReturnsTrue(Type type) =>
        Assert.True(DeepCopier.IsShallowCopyable(type));

    [Theory]
    [InlineData(typeof(object))]
    [InlineData(typeof(int[]))]
    [InlineData(typeof(List<string>))]
    [InlineData(typeof(IReadOnlyList<string>))]
    [InlineData(typeof(ImmutableArray<Line>))]
    [InlineData(typeof(ImmutableArray<string>.Builder))]
    [InlineData(typeof(Order))]
    [InlineData(typeof(KeyValuePair<string, Line>))]
    public void IsShallowCopyable_MutableOrOpenType_ReturnsFalse(Type type) =>
        Assert.False(DeepCopier.IsShallowCopyable(type));

    [Fact]
    public void IsShallowCopyable_SelfReferentialRecord_ReturnsTrue()
    {
        Assert.True(DeepCopier.IsShallowCopyable(typeof(Node)));

        var list = new Node(1, new Node(2, null));
        Assert.Same(list, DeepCopier.Copy(list));
    }

    [Fact]
    public void IsShallowCopyable_CycleWithMutableMemberAskedFromEitherEnd_ReturnsFalseForBoth()
    {
        // CycleA is decided first; CycleB was judged while CycleA was only assumed immutable, and must not keep that verdict.
        Assert.False(DeepCopier.IsShallowCopyable(typeof(CycleA)));
        Assert.False(DeepCopier.IsShallowCopyable(typeof(CycleB)));

        var a = new CycleA(null, [1]);
        var b = new CycleB(a);
        var copy = DeepCopier.Copy(b);
        copy.A!.Numbers[0] = 2;
        Assert.Equal(1, a.Numbers[0]);
    }

    [Fact]
    public void IsShallowCopyable_RacingThreadsOnOneCycle_AllAgree()
    {
        const int threads = 4;
        using var barrier = new Barrier(threads);
        var answers = Enumerable.Repeat(true, threads * 2).ToArray();

        var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
        {
            barrier.SignalAndWait();
            answers[i * 2] = DeepCopier.IsShallowCopyable(i % 2 == 0 ? typeof(RaceA) : typeof(RaceB));
            answers[i * 2 + 1] = DeepCopier.IsShallowCopyable(i % 2 == 0 ? typeof(RaceB) : typeof(RaceA));
        })).ToList();
        workers.ForEach(worker => worker.Start());
        workers.ForEach(worker => worker.Join());

        Assert.All(answers, Assert.False);
    }

    public sealed class Order
    {
        public int Id { get; set; }

        public Customer? Customer { get; set; }

        public List<Line> Lines { get; set; } = [];
    }

    public sealed class Customer
    {
        public string? Name { get; set; }

        public Customer? Friend { get; set; }
    }

    public sealed class Line
    {
        public string? Sku { get; set; }

        public int Quantity { get; set; }
    }

    public sealed class Pair
    {
        public Customer? First { get; set; }

        public Customer? Second { get; set; }
    }

    public sealed record Tag(string Value);

    public sealed record Money(decimal Amount, string Currency, Tag Tag, DateTimeOffset At, Guid Id, ImmutableArray<string> Notes);

    public sealed record Tagged(string Name, List<string> Tags);

    public record ShapeBase(string Name);

    public sealed record MutableShape(string Name) : ShapeBase(Name)
    {
        public int Radius { get; set; }
    }

    public sealed record Node(int Value, Node? Next);

    public sealed record CycleA(CycleB? B, int[] Numbers);

    public sealed record CycleB(CycleA? A);

    public sealed record RaceA(RaceB? B, List<int> Numbers);

    public sealed record RaceB(RaceA? A);

    [Immutable]
    public sealed class DeclaredImmutable(int[] values)
    {
        private readonly int[] _values = values;

        public int Sum => _values.Sum();
    }

    public sealed class HolderWithImmutableProperty
    {
        [Immutable]
        public int[]? Shared { get; set; }

        public int[]? Copied { get; set; }
    }

    public record struct Slot(int Number, Line Line);

    public struct MutablePoint
    {
        public int X;
    }

    public interface IFakeGrain : IGrainWithStringKey
    {
        [return: Immutable]
        Task<List<int>> SendAsync([Immutable] List<int> shared, List<int> copied);
    }

    public sealed class FakeGrainReference : IFakeGrain
    {
        public int Calls { get; set; }

        public Task<List<int>> SendAsync(List<int> shared, List<int> copied) => Task.FromResult(shared);
    }

    public sealed record GrainHolder(IFakeGrain Grain);
}
