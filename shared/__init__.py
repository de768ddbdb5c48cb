"""Domain code shared by the Lambda functions, the CLI and the local runtime."""
