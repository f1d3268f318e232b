-- How early the next year's holiday calendar is asked for. The State Council
-- publishes a year's holidays in the autumn before; from (13 - N) months
-- before that year begins the centre is told it is missing, and the
-- 节假日安排 page asks for it (src/requests/refdata.c,
-- rq_calendar_needed_year). 1: from December. 0: only once the year has begun.
INSERT INTO settings(key, value, kind, label, owner) VALUES
 ('requests.calendar_lead_months', '1', 'int', '提前几个月提醒录入下一年节假日安排（0 为不提前）', 'sys');
