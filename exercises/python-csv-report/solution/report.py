import csv
import sys
from decimal import Decimal

totals = {}
reader = csv.reader(sys.stdin)
next(reader, None)
for row in reader:
    if not row:
        continue
    region, amount = row
    totals[region] = totals.get(region, Decimal("0")) + Decimal(amount)

for region in sorted(totals):
    print(f"{region}: {totals[region]:.2f}")
print(f"total: {sum(totals.values(), Decimal('0')):.2f}")
