using System.Globalization;

namespace Postbox.Bench;

/// <summary>CPU and memory figures read from Linux's /proc (the harness only runs on Linux).</summary>
internal static class ProcessStats
{
    // USER_HZ is 100 on every Linux distribution the project runs on.
    private const double TicksPerSecond = 100;

    /// <summary>User + system CPU seconds consumed by process <paramref name="pid"/> so far.</summary>
    public static double CpuSeconds(int pid) => TryReadStat($"/proc/{pid}/stat", out var comm, out var ticks, out _) && comm is not null ? ticks / TicksPerSecond : 0;

    /// <summary>Peak resident set size (VmHWM) of <paramref name="pid"/> in MiB.</summary>
    public static double PeakRssMiB(int pid) => StatusKb(pid, "VmHWM:") / 1024.0;

    /// <summary>
    /// CPU seconds of every live process whose command name is <paramref name="comm"/> (postgres, beam.smp), including
    /// what their exited children used: a PostgreSQL backend that ends between two readings moves its CPU into the
    /// postmaster's children's time, so the total never goes down (it did, and a window once showed -15 ms of
    /// PostgreSQL CPU per 1,000 messages).
    /// </summary>
    public static double CpuSecondsOf(string comm)
    {
        double total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsDigit(name[0]))
            {
                continue;
            }

            if (TryReadStat(Path.Combine(dir, "stat"), out var c, out var ticks, out var childTicks) && c == comm)
            {
                total += (ticks + childTicks) / TicksPerSecond;
            }
        }

        return total;
    }

    /// <summary>(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat.</summary>
    public static (double Busy, double Total) Machine()
    {
        var line = File.ReadLines("/proc/stat").First();
        var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var idle = f[3] + f[4];
        var total = f.Take(8).Sum();
        return ((total - idle) / TicksPerSecond, total / TicksPerSecond);
    }

    private static double StatusKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // The process exited.
        }

        return 0;
    }

    private static bool TryReadStat(string path, out string? comm, out double ticks, out double childTicks)
    {
        (comm, ticks, childTicks) = (null, 0, 0);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return false;
        }

        comm = text[(open + 1)..close];
        var rest = text[(close + 2)..].Split(' ');
        // Fields after the command: state is [0]; utime and stime are fields 14 and 15 of the whole line, i.e. [11] and [12];
        // cutime and cstime (waited-for children) are 16 and 17, i.e. [13] and [14].
        ticks = double.Parse(rest[11], CultureInfo.InvariantCulture) + double.Parse(rest[12], CultureInfo.InvariantCulture);
        childTicks = double.Parse(rest[13], CultureInfo.InvariantCulture) + double.Parse(rest[14], CultureInfo.InvariantCulture);
        return true;
    }
}
