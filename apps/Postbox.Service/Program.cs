using Postbox.Service.Cli;

return await ServiceCommandLine.InvokeAsync(args).ConfigureAwait(false);
