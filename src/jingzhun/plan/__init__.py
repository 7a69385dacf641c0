"""Campaign planning: who to contact, through which channel, with which offer and content.

Data flow (each step a module of this package; every step reads tables and writes tables, as of
an explicit date)::

    spec         the campaign spec (YAML -> ``CampaignSpec``): goal, audience, channels, offers,
                 contents, budget, margin, control group, frequency cap, suppression
      -> eligibility   the audience funnel: in audience -> has consent for the channel's purpose
                       -> not suppressed -> under the frequency cap -> outside the quiet period
      -> value         expected incremental profit per (customer, channel, offer) from uplift,
                       CLV and order value, minus contact and offer cost
      -> allocate      at most one (channel, offer, content) per customer, maximising expected
                       incremental profit within budget and channel capacities
      -> control       deterministic hashed control group, stratified, with share and minimum size
      -> forecast      contacts, cost, incremental conversions, revenue, profit and ROI, beside
                       the mass-contact baseline

The package imports nothing on import; import the step you need (``jingzhun.plan.spec``).
"""
