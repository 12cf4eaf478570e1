//! OpenAI-compatible Chat Completions (`/compatible-mode/v1/chat/completions`).
