"""The Arena in a real browser: two blind images, a vote, and the leaderboard moving (Arena and Library tabs)."""

import re

from playwright.sync_api import expect

from playground.stores.arena_votes import open_arena


def test_a_vote_in_the_arena_changes_the_leaderboard(page, app_url):
    before = len(open_arena().votes())
    page.goto(app_url)
    page.get_by_role("tab", name="Arena").click()
    page.locator("#arena-new").click()
    header = page.locator("#arena-header")
    header.get_by_text(re.compile(r"seed \d+\. Which image")).wait_for(timeout=120_000)
    for side in ("#arena-a", "#arena-b"):
        expect(page.locator(f"{side} img")).to_have_count(1)
    body = page.locator("body").inner_text()
    pair = page.evaluate("() => document.querySelector('#arena-header').innerText")
    assert "template" not in pair.lower()  # blind: neither template is named before the vote

    page.locator("#arena-vote-left").click()
    status = page.locator("#arena-status")
    status.get_by_text(re.compile("Recorded: A is better")).wait_for(timeout=30_000)
    votes = open_arena().votes()
    assert len(votes) == before + 1
    winner, loser = votes.iloc[-1]["left"], votes.iloc[-1]["right"]
    assert winner in status.inner_text() and loser in status.inner_text()  # revealed after the vote
    assert winner not in body and loser not in body  # and not before
    board = page.locator("#arena-leaderboard")
    expect(board).to_contain_text(loser, timeout=30_000)
    shown = board.inner_text()
    assert shown.index(winner) < shown.index(loser)  # the winner rates above the loser
    ratings = open_arena().leaderboard().set_index("contestant")["rating"].round()
    assert ratings[winner] > 1000 > ratings[loser]
    assert f"{ratings[winner]:.0f}" in shown

    page.get_by_role("tab", name="Library").click()
    library_board = page.locator("#library-leaderboard")
    expect(library_board).to_contain_text(loser, timeout=30_000)
    assert library_board.inner_text().index(winner) < library_board.inner_text().index(loser)
