"""The canary judge: Kayenta's NetflixACAJudge semantics on scipy.

`mannwhitney` tests a location shift with its confidence interval,
`classifier` labels one metric Pass / High / Low / Nodata, `scorer` turns the
labels into group scores and a 0-100 summary, and `judge` runs a whole
judgment configuration over canary and baseline samples.
"""
