-- Running totals of the numbers table, changed in the transaction of every insert and
-- delete, so the statistics read one row instead of scanning the table. The sum is kept
-- as a compensated pair: `sum_lo` collects the rounding error each addition to `sum_hi`
-- lost (TwoSum), about twice a double's precision, so values that come and go leave no
-- visible trace (a plain running sum turns 0.1 + 1e15 - 1e15 into 0.125). After the
-- smallest or largest value is removed, MIN and MAX are found again through `numbers_value`.
CREATE TABLE numbers_totals (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    count   INTEGER NOT NULL,
    sum_hi  REAL NOT NULL,
    sum_lo  REAL NOT NULL,
    min     REAL,
    max     REAL
);
INSERT INTO numbers_totals (id, count, sum_hi, sum_lo, min, max)
SELECT 1, COUNT(*), COALESCE(SUM(value), 0.0), 0.0, MIN(value), MAX(value) FROM numbers;
CREATE INDEX numbers_value ON numbers (value);
