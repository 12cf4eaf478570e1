//! DashScope native generation (`/api/v1/services/aigc/{text,multimodal}-generation/generation`).
