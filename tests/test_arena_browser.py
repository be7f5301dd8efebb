"""The Arena in a real browser: two blind images shown whole and large, a vote moving the
leaderboard (Arena and Library tabs), the next pair drawn, and a vote with no pair one message."""

import re

from playwright.sync_api import expect

from playground.stores.arena_votes import open_arena

from .test_browser import shown_trackers

SHOWN = "() => [...document.querySelectorAll('#arena-a img, #arena-b img')].map(i => [i.src, i.naturalWidth, " \
        "i.getBoundingClientRect().width, i.getBoundingClientRect().height, getComputedStyle(i).objectFit])"


def test_a_vote_in_the_arena_changes_the_leaderboard_and_draws_the_next_pair(page, app_url, fresh_library):
    """On a library of its own: an earlier test's vote on the same pair would tie the two."""
    before = len(open_arena().votes())
    rated = open_arena().leaderboard().set_index("contestant")["rating"]  # earlier tests may have voted
    page.goto(app_url)
    page.get_by_role("tab", name="Arena").click()
    board = page.locator("#arena-leaderboard")
    page.locator("#arena-vote-left").click()  # no pair drawn yet
    expect(page.locator(".toast-body")).to_contain_text("There is no pair to vote on")
    expect(page.locator(".toast-body")).to_have_count(1)
    assert shown_trackers(page) == [] and board.is_visible()  # no "Error" pill, the leaderboard stays

    page.locator("#arena-new").click()
    header = page.locator("#arena-header")
    header.get_by_text(re.compile(r"seed \d+\. Which image")).wait_for(timeout=120_000)
    expect(page.locator("#arena-a img, #arena-b img")).to_have_count(2)
    first = page.evaluate(SHOWN)
    for src, natural, width, height, fit in first:
        assert re.search(r"/[0-9a-f]{24}\.png$", src) and fit == "contain"  # opaque names; whole images
        assert natural == 64 and min(width, height) >= 300  # a 64 px image is scaled up to its box
    shown_before = " ".join(page.locator(part).inner_text() for part in ("#arena-header", "#arena-pair", "#arena-status"))
    shown_before += " ".join(src for src, *_ in first)

    page.locator("#arena-vote-left").click()
    status = page.locator("#arena-status")
    status.get_by_text(re.compile("Recorded: A is better")).wait_for(timeout=30_000)
    votes = open_arena().votes()
    assert len(votes) == before + 1
    winner, loser = votes.iloc[-1]["left"], votes.iloc[-1]["right"]
    assert winner in status.inner_text() and loser in status.inner_text()  # revealed after the vote
    assert winner not in shown_before and loser not in shown_before  # and not before (the header, the images)
    expect(board).to_contain_text(loser, timeout=30_000)
    shown = board.inner_text()
    assert shown.index(winner) < shown.index(loser)  # the winner rates above the loser
    ratings = open_arena().leaderboard().set_index("contestant")["rating"].round()
    assert ratings[winner] > rated.get(winner, 1000.0) - 0.5 and ratings[loser] < rated.get(loser, 1000.0) + 0.5
    assert ratings[winner] > ratings[loser] or (winner in rated and loser in rated)  # a first meeting: winner above
    assert f"{ratings[winner]:.0f}" in shown

    page.wait_for_function(f"() => ({SHOWN})().length == 2 && ({SHOWN})().every(([src]) => "
                           f"!{[src for src, *_ in first]!r}.includes(src))", timeout=120_000)  # the next pair
    page.locator("#arena-vote-tie").click()
    status.get_by_text(re.compile("Recorded: Tie")).wait_for(timeout=30_000)
    assert open_arena().votes()["winner"].tolist()[-2:] == ["left", "tie"]

    page.get_by_role("tab", name="Library").click()
    library_board = page.locator("#library-leaderboard")
    expect(library_board).to_contain_text(loser, timeout=30_000)
