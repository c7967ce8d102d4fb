// An ASP.NET app that serves a DeepSeek checkpoint to any OpenAI client and uses the same model from its own endpoint.
//
//   dotnet run --project samples/OpenAIServer -- --DeepSeek:ModelPath=/models/DeepSeek-V2-Lite-Chat
//   curl localhost:5000/v1/chat/completions -H 'content-type: application/json' \
//        -d '{"model":"deepseek","messages":[{"role":"user","content":"Hello!"}]}'
//   curl localhost:5000/summarize -H 'content-type: application/json' -d '{"text":"..."}'
using Microsoft.Extensions.AI;

var builder = WebApplication.CreateBuilder(args);

// One model, loaded once, validated at start-up (a wrong ModelPath stops the app before it listens).
builder.Services.AddDeepSeek(builder.Configuration.GetSection("DeepSeek"));
builder.Services.AddOpenAIServer(o =>
{
    o.AddModel(builder.Configuration["DeepSeek:ModelId"] ?? "deepseek");
    o.ApiKey = builder.Configuration["OpenAIServer:ApiKey"];   // null: no key required
});

var app = builder.Build();
app.MapOpenAIEndpoints();   // /v1/chat/completions, /v1/completions, /v1/models, /health

// Business code talks to the model through Microsoft.Extensions.AI's IChatClient, injected like any service.
app.MapPost("/summarize", async (SummarizeRequest request, IChatClient chat, CancellationToken cancellationToken) =>
{
    if (string.IsNullOrWhiteSpace(request.Text)) return Results.BadRequest(new { error = "text is required" });
    var response = await chat.GetResponseAsync(
        [new ChatMessage(ChatRole.System, "Summarize the user's text in one sentence."), new ChatMessage(ChatRole.User, request.Text)],
        new ChatOptions { MaxOutputTokens = 200 }, cancellationToken);
    return Results.Ok(new SummarizeResponse(response.Text, response.Usage?.TotalTokenCount ?? 0));
});

app.Run();

/// <summary>Body of <c>POST /summarize</c>.</summary>
public sealed record SummarizeRequest(string Text);

/// <summary>Answer of <c>POST /summarize</c>.</summary>
public sealed record SummarizeResponse(string Summary, long Tokens);

/// <summary>Exposed for <c>WebApplicationFactory&lt;Program&gt;</c> in tests.</summary>
public partial class Program;
