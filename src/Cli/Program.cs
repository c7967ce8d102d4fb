using DeepSeek.Cli;

return await DeepSeekCommand.RunAsync(args);
