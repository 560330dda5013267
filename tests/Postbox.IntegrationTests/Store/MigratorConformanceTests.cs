using Postbox.Storage;

namespace Postbox.IntegrationTests.Store;

/// <summary>
/// What every store's migrator must do, on a fresh schema or database of the test's own. Each provider runs this suite
/// through a subclass, as it runs <see cref="OutboxStoreConformanceTests"/>.
/// </summary>
public abstract class MigratorConformanceTests
{
    /// <summary>A new migrator for the test's schema or database, with connections of its own, as another process would have.</summary>
    protected abstract IPostboxMigrator CreateMigrator();

    /// <summary>This build's migration versions, in order.</summary>
    protected abstract IReadOnlyList<int> Versions { get; }

    /// <summary>Rows in the store's bookkeeping table.</summary>
    protected abstract Task<long> CountBookkeepingAsync();

    [Fact]
    public async Task Migrate_Twice_AppliesEachVersionOnce()
    {
        var migrator = CreateMigrator();

        var first = await migrator.MigrateAsync();
        var second = await migrator.MigrateAsync();

        Assert.Equal(Versions, first);
        Assert.Empty(second);
        Assert.Equal(Versions.Count, await CountBookkeepingAsync());
    }

    // Processes that start together (a rolling deployment, several replicas) all migrate: none may fail, and between
    // them each version runs exactly once.
    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    public async Task Migrate_SeveralProcessesStartTogetherOnAFreshSchema_AllSucceedAndEachVersionIsAppliedOnce(int processes)
    {
        var migrators = Enumerable.Range(0, processes).Select(_ => CreateMigrator()).ToList();

        var results = await Task.WhenAll(migrators.Select(m => Task.Run(() => m.MigrateAsync())));

        Assert.Equal(Versions, results.SelectMany(r => r).Order());
        Assert.Equal(Versions.Count, await CountBookkeepingAsync());
        Assert.Empty(await CreateMigrator().MigrateAsync());
    }
}
