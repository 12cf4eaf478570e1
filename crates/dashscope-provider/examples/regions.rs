//! Cookbook: regions and workspaces. API keys belong to one region; a workspace's own host
//! (`{workspace}.{region}.maas.aliyuncs.com`) takes only that workspace's keys; an explicit
//! base URL wins over both. The environment does the same: `DASHSCOPE_REGION`,
//! `DASHSCOPE_WORKSPACE`, `DASHSCOPE_BASE_URL` (and `DASHSCOPE_WORKSPACE_ID` for the
//! `X-DashScope-WorkSpace` header).
//!
//! ```sh
//! cargo run -p dashscope-provider --example regions
//! ```

use dashscope_provider::protocol::chat::{ChatRequest, Message};
use dashscope_provider::{Client, Config, Region};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    // Where each region's requests go (nothing is sent here).
    for region in Region::ALL {
        let shared = Config::builder()
            .api_key("sk-example")
            .region(region)
            .build();
        let workspace = Config::builder()
            .api_key("sk-example")
            .region(region)
            .workspace("ws-example")
            .build()?;
        println!(
            "{:<15} shared host: {:<44} workspace host: {}",
            region.id(),
            shared.map_or_else(
                |_| "none: a workspace is needed".to_owned(),
                |c| c.base_url().to_owned()
            ),
            workspace.base_url()
        );
    }

    // The same choice from the environment; this request goes where it says.
    let client = Client::from_env()?;
    println!("\nsending to {}", client.config().base_url());
    let reply = client
        .chat()
        .create(ChatRequest::new("qwen-plus", vec![Message::user("Hello!")]))
        .await?;
    println!("{}", reply.text().unwrap_or_default());
    Ok(())
}
