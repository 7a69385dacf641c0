"""Customer profile (客户画像): per-customer features, lifecycle stage and tags."""
