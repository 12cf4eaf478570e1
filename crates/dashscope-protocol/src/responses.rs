//! OpenAI-compatible Responses (`/compatible-mode/v1/responses`).
