"""Every Chinese label the console shows, in one table (as a station says them)."""

from __future__ import annotations

LABELS: dict[str, str] = {
    # pages
    "page.desk": "值班台", "page.disputes": "矛盾纠纷", "page.callbacks": "回访", "page.satisfaction": "评警",
    "page.figures": "态势", "page.login": "登录",
    "app.title": "枫桥式派出所 · 指挥台",
    # alert states
    "alert.received": "待派", "alert.unassigned": "待人工指派", "alert.assigned": "已派待确认",
    "alert.acknowledged": "已出警", "alert.closed": "已结束",
    # alert categories
    "category.dispute": "纠纷", "category.theft": "盗窃", "category.fraud": "诈骗", "category.violence": "暴力",
    "category.traffic": "交通", "category.assistance": "求助", "category.noise": "噪音", "category.other": "其他",
    "priority.1": "紧急", "priority.2": "一般", "priority.3": "较缓",
    # assignment reasons
    "reason.zone": "辖区", "reason.nearest": "就近", "reason.overflow": "超出处置能力", "reason.ordered": "指令派警",
    "reason.duty_desk": "值班台",
    "end.released": "超时改派", "end.reassigned": "改派", "end.acknowledged": "已确认", "end.closed": "已结束",
    "end.ack_timeout": "确认超时", "end.unit_unavailable": "单元不可用",
    # dispositions
    "disposition.resolved_on_scene": "现场处结", "disposition.referred_to_mediation": "移交调解",
    "disposition.converted_to_case": "转为案件", "disposition.no_action": "无需处置",
    # unit status
    "unit.available": "在岗", "unit.busy": "繁忙", "unit.off_duty": "休班",
    # dispute levels and states
    "level.scene": "出警民警处警关", "level.community": "社区民警介入关", "level.village": "村居干部干预关",
    "level.town": "镇级调处", "level.escalated_out": "上交",
    "dstate.reported": "已登记", "dstate.mediating": "调解中", "dstate.resolved": "已调解",
    "dstate.escalated": "已升级", "dstate.closed_unresolved": "未调解结案", "dstate.reopened": "重新调解",
    "referral.court": "法院", "referral.petition": "信访", "referral.other": "其他机构",
    "daction.open": "登记", "daction.contact": "首次联系", "daction.escalate": "升级", "daction.resolve": "调解成功",
    "daction.close": "结案", "daction.reopen": "重新调解", "daction.followup": "回访",
    # callbacks
    "cbstate.scheduled": "待发送", "cbstate.sent": "已发送", "cbstate.delivered": "已送达", "cbstate.done": "已回访",
    "cbstate.manual": "人工回访", "cbstate.overdue": "已超期", "cbstate.superseded": "已替代",
    "rule.unsolved_7d": "未破案件7日回访", "rule.solved_3d": "已破案件3日回访",
    "channel.phone": "电话", "channel.visit": "上门", "channel.sms": "短信", "channel.on_site": "现场",
    "channel.all": "合计",
    # ratings
    "rating.satisfied": "满意", "rating.basically": "基本满意", "rating.dissatisfied": "不满意",
    "rate.satisfaction": "满意率", "rate.strict": "严格满意率",
    "check.confirmed": "属实", "check.denied": "不属实", "check.unreachable": "未接通",
    # roles
    "role.admin": "管理员", "role.duty_desk": "值班员", "role.officer": "民警", "role.mediator": "调解员",
    "role.leadership": "所领导", "role.integration": "系统对接", "role.viewer": "只读",
    # actions and words
    "act.assign": "指派", "act.ack": "确认出警", "act.close": "结束警情", "act.open": "查看",
    "act.complete": "完成回访",
    "act.signout": "退出", "act.submit": "提交", "act.download_csv": "下载CSV",
    "word.queue": "待处置队列", "word.age": "等待", "word.unit": "处警单元", "word.post": "警务室",
    "word.load": "在办/容量", "word.caller": "报警人", "word.summary": "警情", "word.address": "地点",
    "word.history": "派警记录", "word.distance": "距离", "word.reason": "理由", "word.force": "超出容量强制指派",
    "word.officer": "民警", "word.note": "备注", "word.signatures": "现场处结备案单签名",
    "sig.party": "当事人", "sig.officer": "处警民警", "sig.witness": "见证人",
    "word.not_available": "该数据接口尚未提供",
    "word.none": "暂无",
    # field names in the station's figures (what the APIs answer), shown as their labels
    "field.week": "周", "field.units": "各单元", "field.unit_id": "单元", "field.count": "数量",
    "field.median_to_assign_s": "派警用时中位数(秒)", "field.median_to_ack_s": "确认用时中位数(秒)",
    "field.median_to_close_s": "处结用时中位数(秒)", "field.clusters": "警情聚集点", "field.lon": "经度",
    "field.lat": "纬度", "field.from": "起", "field.to": "止", "field.opened": "新增纠纷", "field.resolved": "已调解",
    "field.resolved_by_level": "各层级调解成功", "field.escalated_out": "上交", "field.recurrences": "重复纠纷",
    "field.median_hours_to_resolve": "调解用时中位数(小时)", "field.scene": "出警民警处警关",
    "field.community": "社区民警介入关", "field.village": "村居干部干预关", "field.town": "镇级调处",
    "field.officer_id": "民警", "field.month": "月份", "field.score": "得分", "field.rank": "排名",
    "field.category": "类别", "field.hour": "时段", "field.previous": "上期", "field.year_before": "去年同期",
    "field.change_pct": "环比(%)", "field.yoy_pct": "同比(%)", "field.criminal": "刑事警情",
    "field.public_order": "治安警情",
    "field.categories": "类别", "field.down": "下降", "field.up": "上升", "field.satisfaction": "群众满意率",
    "field.share": "占比", "field.share_previous": "上期占比", "field.share_year_before": "去年同期占比",
    "field.total": "合计", "field.rate": "满意率", "field.now": "本期",
}


def label(key: str, fallback: str | None = None) -> str:
    """The label of `key`; what is not in the table shows as itself (a new state is still readable)."""
    return LABELS.get(key, fallback if fallback is not None else key.split(".", 1)[-1])
