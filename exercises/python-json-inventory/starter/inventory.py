import json


def summarize(orders_json):
    """Summarize a JSON text of orders into per-SKU quantities and revenue."""
    # TODO: invalid JSON and documents without an "orders" list
    document = json.loads(orders_json)
    skus = {}
    for order in document["orders"]:
        # TODO: cancelled orders, orders to skip, and discount_pct
        for item in order["items"]:
            # TODO: check every item and count the bad ones in skipped_items
            entry = skus.setdefault(item["sku"], {"qty": 0, "revenue_cents": 0})
            entry["qty"] += item["qty"]
            entry["revenue_cents"] += item["qty"] * item["price_cents"]
    return {
        "orders": len(document["orders"]),
        "cancelled": 0,
        "skipped_orders": 0,
        "skipped_items": 0,
        "skus": skus,
        "revenue_cents": sum(entry["revenue_cents"] for entry in skus.values()),
        "top_sku": None,  # TODO: the SKU with the highest revenue
    }
