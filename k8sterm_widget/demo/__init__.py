"""A local demo cluster that real Kubernetes clients accept (kubectl, the official client, kubernetes_asyncio)."""
