//! Cookbook: image and video input, on Chat Completions and on the native API. A vision model
//! (`qwen-vl-max`) takes images and videos by URL (or as `data:` URIs); the native client sends
//! a request holding media to the multimodal endpoint by itself.
//!
//! ```sh
//! cargo run -p dashscope-provider --example multimodal
//! ```

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, ContentPart, Message};
use dashscope_provider::protocol::native::{self, ContentItem, GenerationRequest};

const IMAGE: &str = "https://dashscope.oss-cn-beijing.aliyuncs.com/images/dog_and_girl.jpeg";
const VIDEO: &str =
    "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20241115/cqqkru/1.mp4";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;

    // Chat Completions: content parts.
    let image = Message::user_parts(vec![
        ContentPart::image_url(IMAGE),
        ContentPart::text("What is in this picture?"),
    ]);
    let reply = client
        .chat()
        .create(ChatRequest::new("qwen-vl-max", vec![image]))
        .await?;
    println!("chat, image: {}", reply.text().unwrap_or_default());

    let video = Message::user_parts(vec![
        ContentPart::video_url(VIDEO),
        ContentPart::text("What happens in this video?"),
    ]);
    let reply = client
        .chat()
        .create(ChatRequest::new("qwen-vl-max", vec![video]))
        .await?;
    println!("chat, video: {}", reply.text().unwrap_or_default());

    // Native: content items (sent to the multimodal-generation endpoint).
    let image = native::Message::user_multimodal(vec![
        ContentItem::image(IMAGE),
        ContentItem::text("What is in this picture?"),
    ]);
    let reply = client
        .native()
        .generate(GenerationRequest::new("qwen-vl-max", vec![image]))
        .await?;
    println!("native, image: {}", reply.text().unwrap_or_default());

    let video = native::Message::user_multimodal(vec![
        ContentItem {
            fps: Some(2.into()), // frames sampled per second
            ..ContentItem::video(VIDEO)
        },
        ContentItem::text("What happens in this video?"),
    ]);
    let reply = client
        .native()
        .generate(GenerationRequest::new("qwen-vl-max", vec![video]))
        .await?;
    println!("native, video: {}", reply.text().unwrap_or_default());
    Ok(())
}
